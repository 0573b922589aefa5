/// The right edge (frontier) of a Merkle tree built leaf by leaf: the roots of the perfect subtrees that make up
/// the tree so far, at most one per level, so at most 64 hashes whatever the size. Enough to give the root of the
/// tree after every append, and to keep appending, without holding the leaves: an auditor streams a log through
/// one of these and compares the root at each head's size.
public struct CompactRange: Sendable, Hashable {
    /// The number of leaves appended.
    public private(set) var size: UInt64
    /// The roots of the perfect subtrees, largest (leftmost) first: one for each set bit of `size`.
    public private(set) var hashes: [[UInt8]]

    /// The range of the empty tree.
    public init() {
        size = 0
        hashes = []
    }

    /// A range restored from its size and hashes (as `size` and `hashes` gave them).
    public init(size: UInt64, hashes: [[UInt8]]) throws(TransparencyLogError) {
        guard hashes.count == size.nonzeroBitCount, hashes.allSatisfy({ $0.count == TreeHash.byteCount }) else {
            throw TransparencyLogError(
                .invalidCompactRange, "\(hashes.count) hashes for \(size) leaves; it takes \(size.nonzeroBitCount) of 32 bytes")
        }
        self.size = size
        self.hashes = hashes
    }

    /// Appends the next leaf hash.
    public mutating func append(_ leafHash: [UInt8]) throws(TransparencyLogError) {
        try TreeHash.check(leafHash, "leaf hash \(size)")
        guard size < UInt64.max else { throw TransparencyLogError(.indexOutOfRange, "the tree is full") }
        var hash = leafHash
        var s = size
        // Each trailing set bit is a perfect subtree of the same height as the one being carried: merge them.
        while s & 1 == 1 {
            hash = TreeHash.node(hashes.removeLast(), hash)
            s >>= 1
        }
        hashes.append(hash)
        size += 1
    }

    /// The root of the tree of the `size` leaves appended (RFC 9162, section 2.1.1).
    public var root: [UInt8] {
        guard var r = hashes.last else { return TreeHash.emptyRoot }
        for h in hashes.dropLast().reversed() { r = TreeHash.node(h, r) }
        return r
    }
}
