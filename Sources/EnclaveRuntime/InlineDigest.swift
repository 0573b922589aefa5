/// A SHA-256 digest held inline, in four words, not in an array's heap storage: the fixed-size entry of the
/// enclave's indexes that never evict (the store index, the action ledger), so that their bytes per entry are known.
public struct InlineDigest: Sendable, Hashable {
    private var words: (UInt64, UInt64, UInt64, UInt64)

    /// The digest `bytes` (32 of them).
    public init(_ bytes: [UInt8]) {
        precondition(bytes.count == 32, "a SHA-256 digest is 32 bytes")
        func word(_ i: Int) -> UInt64 { bytes[i..<i + 8].reduce(0) { $0 << 8 | UInt64($1) } }
        words = (word(0), word(8), word(16), word(24))
    }

    /// The 32 bytes.
    public var bytes: [UInt8] {
        [words.0, words.1, words.2, words.3].flatMap { w in (0..<8).map { UInt8(truncatingIfNeeded: w >> (56 - 8 * $0)) } }
    }

    public static func == (a: Self, b: Self) -> Bool { a.words == b.words }

    public func hash(into h: inout Hasher) {
        h.combine(words.0)
        h.combine(words.1)
        h.combine(words.2)
        h.combine(words.3)
    }
}
