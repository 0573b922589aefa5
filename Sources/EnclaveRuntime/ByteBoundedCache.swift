/// A least-recently-used cache bounded by bytes: each entry counts the bytes its owner says it holds plus
/// `entryOverhead` for the cache's own bookkeeping, and inserting past `maxBytes` evicts the least recently used
/// entries first. Only for what can be read again from elsewhere: an evicted entry is simply gone.
public struct ByteBoundedCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Slot: Sendable {
        var key: Key
        var value: Value
        var bytes: Int
        var newer: Int?
        var older: Int?
    }

    /// What the cache counts for each entry beyond the bytes its owner names: the slot, the index's hash table
    /// entry and its slack.
    public static var entryOverhead: Int { 64 + 2 * MemoryLayout<Key>.stride + MemoryLayout<Value>.stride }

    /// Most bytes the entries may hold, overheads included.
    public let maxBytes: Int
    /// Bytes the entries hold now, overheads included (never above `maxBytes`).
    public private(set) var bytes = 0
    /// Entries evicted to make room, since the cache was made.
    public private(set) var evictions = 0

    private var slots: [Slot?] = []
    private var free: [Int] = []
    private var index: [Key: Int] = [:]
    private var newest: Int?
    private var oldest: Int?

    public init(maxBytes: Int) { self.maxBytes = max(0, maxBytes) }

    /// Entries held now.
    public var count: Int { index.count }

    /// The value under `key`, which becomes the most recently used.
    public mutating func value(_ key: Key) -> Value? {
        guard let i = index[key] else { return nil }
        unlink(i)
        link(i)
        return slots[i]!.value
    }

    /// The value under `key`, leaving the order as it is.
    public func peek(_ key: Key) -> Value? { index[key].map { slots[$0]!.value } }

    /// Keeps `value` under `key` (replacing what was there) as holding `bytes`, evicting the least recently used
    /// entries until all fit. A value larger than the whole cache is not kept. True when it was kept.
    @discardableResult
    public mutating func insert(_ key: Key, _ value: Value, bytes: Int) -> Bool {
        remove(key)
        let cost = max(0, bytes) + Self.entryOverhead
        guard cost <= maxBytes else { return false }
        while self.bytes + cost > maxBytes, let victim = oldest {
            evictions += 1
            drop(victim)
        }
        let slot = Slot(key: key, value: value, bytes: cost)
        let i: Int
        if let reused = free.popLast() {
            slots[reused] = slot
            i = reused
        } else {
            slots.append(slot)
            i = slots.count - 1
        }
        index[key] = i
        link(i)
        self.bytes += cost
        return true
    }

    /// Forgets `key`.
    public mutating func remove(_ key: Key) {
        if let i = index[key] { drop(i) }
    }

    /// Forgets every entry.
    public mutating func removeAll() { self = Self(maxBytes: maxBytes) }

    private mutating func drop(_ i: Int) {
        unlink(i)
        let slot = slots[i]!
        index.removeValue(forKey: slot.key)
        bytes -= slot.bytes
        slots[i] = nil
        free.append(i)
    }

    private mutating func link(_ i: Int) {
        slots[i]!.older = newest
        slots[i]!.newer = nil
        if let n = newest { slots[n]!.newer = i }
        newest = i
        if oldest == nil { oldest = i }
    }

    private mutating func unlink(_ i: Int) {
        let (newer, older) = (slots[i]!.newer, slots[i]!.older)
        if let newer { slots[newer]!.older = older } else { newest = older }
        if let older { slots[older]!.newer = newer } else { oldest = newer }
        slots[i]!.newer = nil
        slots[i]!.older = nil
    }
}
