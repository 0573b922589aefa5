import Synchronization

/// Certificate chain prefixes already validated (signatures, CA constraints, path lengths), keyed by
/// the SHA-256 of every certificate in them, so a repeat verification costs about one signature check.
///
/// Nothing time-dependent is cached: validity windows are re-checked against the validation time on
/// every use. Entries are added only after a full validation from a trusted root succeeds.
public final class ChainCache: Sendable {
    struct Entry: Sendable {
        /// The prefix's certificates, root first.
        let certificates: [X509Certificate]
        /// Whether the last certificate was validated as an issuing CA (and so may anchor a longer chain).
        let lastIsCA: Bool
    }

    private struct State {
        var entries: [[UInt8]: Entry] = [:]
        var insertionOrder: [[UInt8]] = []
    }

    private let state = Mutex(State())
    /// Most prefixes kept; the oldest go first.
    public let capacity: Int

    public init(capacity: Int = 512) {
        self.capacity = max(capacity, 1)
    }

    /// Number of cached prefixes.
    public var count: Int { state.withLock { $0.entries.count } }

    /// Drops every entry.
    public func removeAll() { state.withLock { $0 = State() } }

    func entry(_ key: [UInt8]) -> Entry? { state.withLock { $0.entries[key] } }

    func remove(_ key: [UInt8]) {
        state.withLock { s in
            s.entries[key] = nil
            s.insertionOrder.removeAll { $0 == key }
        }
    }

    func insert(_ key: [UInt8], _ entry: Entry) {
        state.withLock { s in
            if s.entries.updateValue(entry, forKey: key) == nil {
                s.insertionOrder.append(key)
                if s.insertionOrder.count > capacity {
                    s.entries[s.insertionOrder.removeFirst()] = nil
                }
            }
        }
    }

    /// Keys of every prefix of a chain given the SHA-256 of each certificate, root first: key[k] covers 0...k.
    static func prefixKeys(_ hashes: [[UInt8]]) -> [[UInt8]] {
        var keys: [[UInt8]] = []
        keys.reserveCapacity(hashes.count)
        var previous: [UInt8] = []
        for h in hashes {
            previous = previous.isEmpty ? h : SHA.sha256(previous + h)
            keys.append(previous)
        }
        return keys
    }
}
