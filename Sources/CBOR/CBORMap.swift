/// The entries of a CBOR map, in order, with unique keys.
///
/// Order is kept because Cloister emits some maps in a fixed, externally defined order (the Nitro
/// attestation document), and because a decoded map should be shown as it was received.
public struct CBORMap: Hashable, Sendable, Sequence, ExpressibleByDictionaryLiteral {
    /// One key and its value.
    public struct Entry: Hashable, Sendable {
        public var key: CBOR
        public var value: CBOR
        public init(key: CBOR, value: CBOR) {
            self.key = key
            self.value = value
        }
    }

    /// The entries in order.
    public private(set) var entries: [Entry]

    /// An empty map.
    public init() { entries = [] }

    /// A map of these entries; a repeated key keeps its first position and takes the last value.
    public init(_ pairs: [(CBOR, CBOR)]) {
        entries = []
        entries.reserveCapacity(pairs.count)
        for (k, v) in pairs { self[k] = v }
    }

    public init(dictionaryLiteral elements: (CBOR, CBOR)...) { self.init(elements) }

    /// Builds a map from entries already known to have unique keys (the decoder checks that).
    init(uniqueEntries: [Entry]) { entries = uniqueEntries }

    /// The number of entries.
    public var count: Int { entries.count }

    /// True when the map has no entries.
    public var isEmpty: Bool { entries.isEmpty }

    /// The value for a key, or nil. Setting nil removes the entry; setting a new key appends it.
    public subscript(key: CBOR) -> CBOR? {
        get { entries.first(where: { $0.key == key })?.value }
        set {
            if let i = entries.firstIndex(where: { $0.key == key }) {
                if let newValue { entries[i].value = newValue } else { entries.remove(at: i) }
            } else if let newValue {
                entries.append(Entry(key: key, value: newValue))
            }
        }
    }

    public func makeIterator() -> IndexingIterator<[Entry]> { entries.makeIterator() }
}
