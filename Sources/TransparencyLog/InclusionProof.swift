/// Inclusion proofs (audit paths) of RFC 9162, section 2.1.3: that a leaf hash sits at an index of a tree of a
/// given size and root. Nodes are listed from the leaf up.
public enum InclusionProof {
    /// The audit path of leaf `index` in the tree made of the first `size` of `leafHashes` (section 2.1.3.1).
    public static func make(index: UInt64, size: UInt64, leafHashes: [[UInt8]]) throws(TransparencyLogError) -> [[UInt8]] {
        guard size > 0 else { throw TransparencyLogError(.emptyTree, "no leaf is included in the empty tree") }
        guard index < size else { throw TransparencyLogError(.indexOutOfRange, "index \(index) of a tree of \(size)") }
        guard size <= UInt64(leafHashes.count) else {
            throw TransparencyLogError(.indexOutOfRange, "a tree of \(size) from \(leafHashes.count) leaves")
        }
        let leaves = leafHashes[0..<Int(size)]
        for (i, hash) in leaves.enumerated() { try TreeHash.check(hash, "leaf hash \(i)") }
        var path: [[UInt8]] = []
        var m = Int(index)
        var range = leaves
        // Walk down from the root, collecting the sibling at each level, then reverse: the path lists the leaf's end first.
        while range.count > 1 {
            let k = Int(TreeHash.split(UInt64(range.count)))
            let s = range.startIndex
            if m < k {
                path.append(TreeHash.subtreeRoot(range[(s + k)...]))
                range = range[s..<s + k]
            } else {
                path.append(TreeHash.subtreeRoot(range[s..<s + k]))
                range = range[(s + k)...]
                m -= k
            }
        }
        return path.reversed()
    }

    /// Returns when `proof` shows `leafHash` at `index` of the tree of `size` leaves whose root is `root`
    /// (section 2.1.3.2); throws the rule that failed otherwise.
    public static func verify(
        leafHash: [UInt8], index: UInt64, size: UInt64, proof: [[UInt8]], root: [UInt8]
    ) throws(TransparencyLogError) {
        let computed = try rootFrom(leafHash: leafHash, index: index, size: size, proof: proof)
        try TreeHash.check(root, "the root")
        guard computed == root else {
            throw TransparencyLogError(.rootMismatch, "the proof for leaf \(index) of \(size) leads to another root")
        }
    }

    /// The root that `proof` gives for `leafHash` at `index` of a tree of `size` leaves.
    public static func rootFrom(
        leafHash: [UInt8], index: UInt64, size: UInt64, proof: [[UInt8]]
    ) throws(TransparencyLogError) -> [UInt8] {
        guard size > 0 else { throw TransparencyLogError(.emptyTree, "no leaf is included in the empty tree") }
        guard index < size else { throw TransparencyLogError(.indexOutOfRange, "index \(index) of a tree of \(size)") }
        let expected = length(index: index, size: size)
        guard proof.count == expected else {
            throw TransparencyLogError(.wrongProofLength, "\(proof.count) nodes; leaf \(index) of \(size) takes \(expected)")
        }
        try TreeHash.check(leafHash, "the leaf hash")
        for (i, node) in proof.enumerated() { try TreeHash.check(node, "proof node \(i)") }
        var fn = index
        var sn = size - 1
        var r = leafHash
        for p in proof {
            // The length check makes sn reach 0 exactly at the end; kept as the RFC states it.
            guard sn != 0 else { throw TransparencyLogError(.wrongProofLength, "the proof goes past the root") }
            if fn & 1 == 1 || fn == sn {
                r = TreeHash.node(p, r)
                while fn & 1 == 0 && fn != 0 {
                    fn >>= 1
                    sn >>= 1
                }
            } else {
                r = TreeHash.node(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else { throw TransparencyLogError(.wrongProofLength, "the proof stops below the root") }
        return r
    }

    /// The number of nodes in the audit path of leaf `index` of a tree of `size` (index < size).
    public static func length(index: UInt64, size: UInt64) -> Int {
        var m = index
        var n = size
        var count = 0
        while n > 1 {
            let k = TreeHash.split(n)
            if m < k {
                n = k
            } else {
                m -= k
                n -= k
            }
            count += 1
        }
        return count
    }
}
