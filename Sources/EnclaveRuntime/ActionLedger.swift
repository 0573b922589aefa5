import NitroAttestation
import Synchronization

/// The actions this boot has consumed, by digest, until they expire: an action runs at most once in its boot,
/// whatever the host redelivers, and a copy with a malleated signature is the same action (the digest, not the
/// signature, is remembered). An unexpired digest is never forgotten to make room: when the ledger is full, new
/// actions are refused (`full`) until old ones expire. Its bound is in bytes: each action takes `entryBytes`, a
/// fixed size (the digest is held inline), so that the bound is the configuration's (`actionLedgerBytes`).
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
        var expiries: [InlineDigest: UInt64] = [:]
        var byExpiry: [(expiry: UInt64, digest: InlineDigest)] = []
        var sorted = true
    }

    /// The bytes one remembered action takes at most: its hash table slot (with the table's slack) and up to two
    /// places in the expiry order (superseded ones are dropped once they are as many as the live ones).
    public static let entryBytes = slotBytes + 2 * orderBytes
    /// An action's hash table slot, with room for the table's slack.
    static let slotBytes = 2 * (MemoryLayout<InlineDigest>.stride + MemoryLayout<UInt64>.stride)
    /// One place in the expiry order.
    static let orderBytes = MemoryLayout<(UInt64, InlineDigest)>.stride
    /// The expiry order keeps at least this many places before it is compacted.
    static let minimumOrder = 16

    private let state = Mutex(State())
    /// Most unexpired actions remembered.
    public let capacity: Int
    /// Most bytes the ledger takes.
    public let maxBytes: Int

    /// A ledger of at most `maxBytes` (its capacity: what fits after the expiry order's floor).
    public init(maxBytes: Int = EnclaveMemory().actionLedgerBytes) {
        self.maxBytes = maxBytes
        capacity = max(1, (maxBytes - 2 * Self.minimumOrder * Self.orderBytes) / Self.entryBytes)
    }

    /// Bytes the ledger takes now, by the same measure as `maxBytes`.
    public var bytes: Int {
        state.withLock { s in
            s.expiries.count * Self.slotBytes + s.byExpiry.count * Self.orderBytes
        }
    }

    /// Records `digest` as consumed until `expiry` (ms), unless it already is.
    public func consume(_ digest: [UInt8], expiry: UInt64, now: UInt64) -> Consumed {
        // Digests of other lengths (never an action's) are hashed to 32 bytes first.
        let digest = InlineDigest(digest.count == 32 ? digest : SHA.sha256(digest))
        return state.withLock { s in
            if let known = s.expiries[digest], known > now { return .replayed }
            if s.expiries.count >= capacity { Self.prune(&s, now: now) }
            guard s.expiries.count < capacity else { return .full }
            s.expiries[digest] = expiry
            if let last = s.byExpiry.last, last.expiry > expiry { s.sorted = false }
            s.byExpiry.append((expiry, digest))
            if s.byExpiry.count > 2 * max(s.expiries.count, Self.minimumOrder) { Self.prune(&s, now: now) }
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
        if s.byExpiry.count > 2 * max(s.expiries.count, Self.minimumOrder) {
            s.byExpiry = s.expiries.map { ($0.value, $0.key) }.sorted { $0.expiry < $1.expiry }
        }
    }
}
