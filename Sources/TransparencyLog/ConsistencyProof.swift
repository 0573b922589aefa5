/// Consistency proofs of RFC 9162, section 2.1.4: that the tree of `oldSize` leaves is a prefix of the tree of
/// `newSize` leaves, so the log was only appended to between two heads.
public enum ConsistencyProof {
    /// The proof that the first `oldSize` of `leafHashes` are a prefix of the first `newSize` (section 2.1.4.1):
    /// empty when the sizes are equal.
    public static func make(
        oldSize: UInt64, newSize: UInt64, leafHashes: [[UInt8]]
    ) throws(TransparencyLogError) -> [[UInt8]] {
        try checkSizes(oldSize, newSize)
        guard newSize <= UInt64(leafHashes.count) else {
            throw TransparencyLogError(.indexOutOfRange, "a tree of \(newSize) from \(leafHashes.count) leaves")
        }
        let leaves = leafHashes[0..<Int(newSize)]
        for (i, hash) in leaves.enumerated() { try TreeHash.check(hash, "leaf hash \(i)") }
        return try make(oldSize: oldSize, newSize: newSize) { start, count in TreeHash.subtreeRoot(leaves[Int(start)..<Int(start + count)]) }
    }

    /// `make` for a log whose leaves are not all at hand: `root(start, count)` gives the root of the `count` leaves
    /// from `start` (count ≥ 1). The proof asks it for O(log n) ranges: the subtrees beside the path, each a whole
    /// subtree of the tree of `newSize` leaves.
    public static func make(
        oldSize: UInt64, newSize: UInt64, root: (UInt64, UInt64) throws(TransparencyLogError) -> [UInt8]
    ) throws(TransparencyLogError) -> [[UInt8]] {
        try checkSizes(oldSize, newSize)
        // SUBPROOF(m, D[n], b), unrolled: the nodes come out root first and are reversed at the end.
        var nodes: [[UInt8]] = []
        var m = oldSize
        var start: UInt64 = 0
        var count = newSize
        var complete = true
        while m != count {
            let k = TreeHash.split(count)
            if m <= k {
                nodes.append(try root(start + k, count - k))
                count = k
            } else {
                nodes.append(try root(start, k))
                start += k
                count -= k
                m -= k
                complete = false
            }
        }
        if !complete { nodes.append(try root(start, count)) }
        return nodes.reversed()
    }

    /// Returns when `proof` shows the tree of `oldSize` leaves with `oldRoot` to be a prefix of the tree of
    /// `newSize` leaves with `newRoot` (section 2.1.4.2); throws the rule that failed otherwise. Equal sizes need
    /// an empty proof and equal roots.
    public static func verify(
        oldSize: UInt64, newSize: UInt64, proof: [[UInt8]], oldRoot: [UInt8], newRoot: [UInt8]
    ) throws(TransparencyLogError) {
        try checkSizes(oldSize, newSize)
        try TreeHash.check(oldRoot, "the old root")
        try TreeHash.check(newRoot, "the new root")
        let expected = length(oldSize: oldSize, newSize: newSize)
        guard proof.count == expected else {
            throw TransparencyLogError(
                .wrongProofLength, "\(proof.count) nodes; from \(oldSize) to \(newSize) takes \(expected)")
        }
        for (i, node) in proof.enumerated() { try TreeHash.check(node, "proof node \(i)") }
        if oldSize == newSize {
            guard oldRoot == newRoot else {
                throw TransparencyLogError(.rootMismatch, "two different roots for one size, \(oldSize)")
            }
            return
        }
        var path = proof
        if oldSize & (oldSize - 1) == 0 { path.insert(oldRoot, at: 0) }
        var fn = oldSize - 1
        var sn = newSize - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var fr = path[0]
        var sr = path[0]
        for c in path.dropFirst() {
            guard sn != 0 else { throw TransparencyLogError(.wrongProofLength, "the proof goes past the new root") }
            if fn & 1 == 1 || fn == sn {
                fr = TreeHash.node(c, fr)
                sr = TreeHash.node(c, sr)
                while fn & 1 == 0 && fn != 0 {
                    fn >>= 1
                    sn >>= 1
                }
            } else {
                sr = TreeHash.node(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else { throw TransparencyLogError(.wrongProofLength, "the proof stops below the new root") }
        guard fr == oldRoot else {
            throw TransparencyLogError(.rootMismatch, "the proof does not lead to the old root at size \(oldSize)")
        }
        guard sr == newRoot else {
            throw TransparencyLogError(.rootMismatch, "the proof does not lead to the new root at size \(newSize)")
        }
    }

    /// The number of nodes in the consistency proof from `oldSize` to `newSize` (0 < oldSize ≤ newSize).
    public static func length(oldSize: UInt64, newSize: UInt64) -> Int {
        var m = oldSize
        var n = newSize
        var complete = true
        var count = 0
        while m != n {
            let k = TreeHash.split(n)
            if m <= k {
                n = k
            } else {
                m -= k
                n -= k
                complete = false
            }
            count += 1
        }
        return complete ? count : count + 1
    }

    private static func checkSizes(_ oldSize: UInt64, _ newSize: UInt64) throws(TransparencyLogError) {
        guard oldSize <= newSize else {
            throw TransparencyLogError(.sizesOutOfOrder, "from \(oldSize) leaves back to \(newSize)")
        }
        guard oldSize > 0 else {
            throw TransparencyLogError(.emptyTree, "every tree extends the empty one; there is nothing to prove")
        }
    }
}
