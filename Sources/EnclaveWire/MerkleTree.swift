import NitroAttestation

/// The Merkle tree hash of RFC 9162 (section 2.1.1) over SHA-256, with inclusion proofs. A seal signs one root
/// for a batch of receipts, so one ES384 signature covers every receipt of the batch and each receipt still
/// proves its own inclusion with a handful of hashes.
public enum MerkleTree {
    /// Longest proof accepted: a tree of 2^32 leaves.
    public static let maxProofLength = 32

    public static func leafHash(_ leaf: [UInt8]) -> [UInt8] { SHA.sha256([0x00] + leaf) }

    static func nodeHash(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] { SHA.sha256([0x01] + left + right) }

    /// The root over leaf hashes (at least one).
    public static func root(leafHashes: [[UInt8]]) -> [UInt8] {
        precondition(!leafHashes.isEmpty)
        return root(leafHashes[...])
    }

    private static func root(_ leaves: ArraySlice<[UInt8]>) -> [UInt8] {
        if leaves.count == 1 { return leaves.first! }
        let k = largestPowerOfTwo(below: leaves.count)
        let mid = leaves.startIndex + k
        return nodeHash(root(leaves[leaves.startIndex..<mid]), root(leaves[mid...]))
    }

    /// The root and the audit path of every leaf, with each node hashed once (O(n) hashes; asking `proof` for
    /// every leaf would hash O(n²)).
    public static func rootAndProofs(leafHashes: [[UInt8]]) -> (root: [UInt8], proofs: [[[UInt8]]]) {
        precondition(!leafHashes.isEmpty)
        var proofs = [[[UInt8]]](repeating: [], count: leafHashes.count)
        let root = subtree(leafHashes[...], &proofs)
        return (root, proofs)
    }

    /// The root of `leaves`; appends to each leaf's path the sibling roots above it, bottom up.
    private static func subtree(_ leaves: ArraySlice<[UInt8]>, _ proofs: inout [[[UInt8]]]) -> [UInt8] {
        if leaves.count == 1 { return leaves.first! }
        let k = largestPowerOfTwo(below: leaves.count)
        let s = leaves.startIndex
        let left = subtree(leaves[s..<s + k], &proofs)
        let right = subtree(leaves[(s + k)...], &proofs)
        for i in s..<s + k { proofs[i].append(right) }
        for i in (s + k)..<leaves.endIndex { proofs[i].append(left) }
        return nodeHash(left, right)
    }

    /// The audit path of leaf `index` (RFC 9162, section 2.1.3.1).
    public static func proof(index: Int, leafHashes: [[UInt8]]) -> [[UInt8]] {
        precondition(index >= 0 && index < leafHashes.count)
        return path(index, leafHashes[...])
    }

    private static func path(_ m: Int, _ leaves: ArraySlice<[UInt8]>) -> [[UInt8]] {
        guard leaves.count > 1 else { return [] }
        let k = largestPowerOfTwo(below: leaves.count)
        let s = leaves.startIndex
        if m < k {
            return path(m, leaves[s..<s + k]) + [root(leaves[(s + k)...])]
        } else {
            return path(m - k, leaves[(s + k)...]) + [root(leaves[s..<s + k])]
        }
    }

    /// Whether `proof` shows `leafHash` at `index` of a tree of `size` leaves with `root` (RFC 9162, 2.1.3.2).
    public static func verify(leafHash: [UInt8], index: UInt64, size: UInt64, proof: [[UInt8]], root: [UInt8]) -> Bool {
        guard index < size, proof.count <= maxProofLength else { return false }
        var fn = index
        var sn = size - 1
        var r = leafHash
        for p in proof {
            guard p.count == 32, sn != 0 else { return false }
            if fn & 1 == 1 || fn == sn {
                r = nodeHash(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                r = nodeHash(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && r == root
    }

    /// The largest power of two strictly below `n` (n ≥ 2).
    static func largestPowerOfTwo(below n: Int) -> Int {
        var k = 1
        while k << 1 < n { k <<= 1 }
        return k
    }
}
