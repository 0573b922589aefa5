import Synchronization

/// The actions this boot has consumed, by digest, until they expire: an action runs at most once in its boot,
/// whatever the host redelivers, and a copy with a malleated signature is the same action (the digest, not the
/// signature, is remembered). An unexpired digest is never forgotten to make room: when the ledger is full, new
/// actions are refused (`full`) until old ones expire.
public final class ActionLedger: Sendable {
    public enum Consumed: Sendable, Hashable {
        /// First use: the action may run.
        case fresh
        /// This boot has already run it.
        case replayed
        /// No room for another unexpired action.
        case full
    }

    private struct State {
        var expiries: [[UInt8]: UInt64] = [:]
        var byExpiry: [(expiry: UInt64, digest: [UInt8])] = []
        var sorted = true
    }

    private let state = Mutex(State())
    /// Most unexpired actions remembered.
    public let capacity: Int

    public init(capacity: Int = 1_000_000) { self.capacity = capacity }

    /// Records `digest` as consumed until `expiry` (ms), unless it already is.
    public func consume(_ digest: [UInt8], expiry: UInt64, now: UInt64) -> Consumed {
        state.withLock { s in
            if let known = s.expiries[digest], known > now { return .replayed }
            if s.expiries.count >= capacity { Self.prune(&s, now: now) }
            guard s.expiries.count < capacity else { return .full }
            s.expiries[digest] = expiry
            if let last = s.byExpiry.last, last.expiry > expiry { s.sorted = false }
            s.byExpiry.append((expiry, digest))
            if s.byExpiry.count > 2 * max(s.expiries.count, 1024) { Self.prune(&s, now: now) }
            return .fresh
        }
    }

    /// Actions remembered now.
    public var count: Int { state.withLock { $0.expiries.count } }

    private static func prune(_ s: inout State, now: UInt64) {
        if !s.sorted {
            s.byExpiry.sort { $0.expiry < $1.expiry }
            s.sorted = true
        }
        var drop = 0
        while drop < s.byExpiry.count, s.byExpiry[drop].expiry <= now {
            let (expiry, digest) = s.byExpiry[drop]
            if s.expiries[digest] == expiry { s.expiries.removeValue(forKey: digest) }
            drop += 1
        }
        s.byExpiry.removeFirst(drop)
        // Entries superseded by a later consumption of the same digest are dropped with their expiry.
        if s.byExpiry.count > 2 * max(s.expiries.count, 1024) {
            s.byExpiry = s.expiries.map { ($0.value, $0.key) }.sorted { $0.expiry < $1.expiry }
        }
    }
}
