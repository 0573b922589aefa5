/// Inclusion proofs for leaves being appended, made from the compact range before them: what a log that keeps only
/// its frontier (not its leaves) needs to prove each new leaf in the head that follows the append.
extension CompactRange {
    /// The root of the tree after appending `leafHashes` to this range, and the audit path (RFC 9162, section
    /// 2.1.3) of each appended leaf, at indices `size ..< size + leafHashes.count`, in that tree. Each proof equals
    /// `InclusionProof.make` over the full list of leaves; every node is hashed once.
    public func inclusionProofs(appending leafHashes: [[UInt8]]) throws(TransparencyLogError) -> (root: [UInt8], proofs: [[[UInt8]]]) {
        guard !leafHashes.isEmpty else { throw TransparencyLogError(.emptyTree, "no leaves to prove") }
        for (i, hash) in leafHashes.enumerated() { try TreeHash.check(hash, "leaf hash \(size + UInt64(i))") }
        guard UInt64(leafHashes.count) <= UInt64.max - size else { throw TransparencyLogError(.indexOutOfRange, "the tree is full") }
        // Where each of the range's perfect subtrees starts: they tile [0, size) left to right, largest first.
        var spans: [UInt64: (end: UInt64, hash: Int)] = [:]
        var offset: UInt64 = 0
        for (j, bit) in (0..<64).reversed().filter({ size & (UInt64(1) << $0) != 0 }).enumerated() {
            spans[offset] = (offset + (UInt64(1) << UInt64(bit)), j)
            offset += UInt64(1) << UInt64(bit)
        }
        var walk = AppendedWalk(old: size, frontier: hashes, spans: spans, leaves: leafHashes)
        let root = try walk.subtree(0, size + UInt64(leafHashes.count))
        return (root, walk.proofs)
    }
}

/// The walk down the tree after an append: a subtree wholly before the append is one of the frontier's hashes (the
/// recursion of section 2.1.1 only ever meets those whole), one wholly after is hashed from the new leaves.
private struct AppendedWalk {
    let old: UInt64
    let frontier: [[UInt8]]
    let spans: [UInt64: (end: UInt64, hash: Int)]
    let leaves: [[UInt8]]
    var proofs: [[[UInt8]]]

    init(old: UInt64, frontier: [[UInt8]], spans: [UInt64: (end: UInt64, hash: Int)], leaves: [[UInt8]]) {
        self.old = old
        self.frontier = frontier
        self.spans = spans
        self.leaves = leaves
        proofs = Array(repeating: [], count: leaves.count)
    }

    /// The root of leaves [lo, hi); appends the sibling roots above each new leaf inside, bottom up.
    mutating func subtree(_ lo: UInt64, _ hi: UInt64) throws(TransparencyLogError) -> [UInt8] {
        if hi <= old {
            guard let span = spans[lo], span.end == hi else {
                throw TransparencyLogError(.invalidCompactRange, "leaves \(lo)..<\(hi) are not one of the range's subtrees")
            }
            return frontier[span.hash]
        }
        if hi - lo == 1 { return leaves[Int(lo - old)] }
        let k = TreeHash.split(hi - lo)
        let left = try subtree(lo, lo + k)
        let right = try subtree(lo + k, hi)
        for i in max(lo, old)..<max(lo + k, old) { proofs[Int(i - old)].append(right) }
        for i in max(lo + k, old)..<hi { proofs[Int(i - old)].append(left) }
        return TreeHash.node(left, right)
    }
}
