import NitroAttestation

/// The Merkle tree hash of RFC 9162 (section 2.1.1) over SHA-256: the hashing every proof, compact range and
/// checkpoint of this module agrees on, and the same hashing as `EnclaveWire.MerkleTree`.
public enum TreeHash {
    /// Bytes in every hash: leaf hashes, node hashes and roots.
    public static let byteCount = 32

    /// The root of the empty tree: SHA-256 of nothing.
    public static let emptyRoot: [UInt8] = SHA.sha256([])

    /// The hash of a leaf's data: SHA-256(0x00 || data).
    public static func leaf(_ data: [UInt8]) -> [UInt8] { SHA.sha256([0x00] + data) }

    /// The hash of an interior node: SHA-256(0x01 || left || right).
    public static func node(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] { SHA.sha256([0x01] + left + right) }

    /// The root over `leafHashes` in order (the empty root when there are none), with memory that does not grow
    /// with the count.
    public static func root(leafHashes: some Sequence<[UInt8]>) throws(TransparencyLogError) -> [UInt8] {
        var range = CompactRange()
        for hash in leafHashes { try range.append(hash) }
        return range.root
    }

    /// The root of a non-empty run of leaf hashes, by the recursion of section 2.1.1 (lengths already checked).
    public static func subtreeRoot(_ leaves: ArraySlice<[UInt8]>) -> [UInt8] {
        if leaves.count == 1 { return leaves.first! }
        let k = Int(split(UInt64(leaves.count)))
        let s = leaves.startIndex
        return node(subtreeRoot(leaves[s..<s + k]), subtreeRoot(leaves[(s + k)...]))
    }

    /// The largest power of two strictly below `n` (n ≥ 2): where the tree of `n` leaves splits.
    public static func split(_ n: UInt64) -> UInt64 {
        UInt64(1) << (63 - UInt64((n - 1).leadingZeroBitCount))
    }

    /// Throws `invalidHashLength` unless `hash` is 32 bytes.
    static func check(_ hash: [UInt8], _ what: @autoclosure () -> String) throws(TransparencyLogError) {
        guard hash.count == byteCount else {
            throw TransparencyLogError(.invalidHashLength, "\(what()) is \(hash.count) bytes, not \(byteCount)")
        }
    }
}
