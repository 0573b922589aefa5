import NitroAttestation
import Testing

@testable import TransparencyLog

@Suite struct CompactRangeTests {
    /// Streaming the reference leaves gives the reference root after each one.
    @Test func streamedRootsMatchReference() throws {
        var range = CompactRange()
        #expect(Hex.encode(range.root) == TreeHashTests.roots[0])
        for (i, leaf) in TreeHashTests.leafHashes.enumerated() {
            try range.append(leaf)
            #expect(range.size == UInt64(i + 1))
            #expect(Hex.encode(range.root) == TreeHashTests.roots[i + 1])
            #expect(range.hashes.count == (i + 1).nonzeroBitCount)
        }
    }

    /// For 300 leaves: the streamed root is the recursive root at every size, and a range restored from its
    /// size and hashes carries on as if never stopped.
    @Test func restoredRangeCarriesOn() throws {
        let leaves = (0..<300).map { TreeHash.leaf([UInt8($0 & 0xFF), UInt8($0 >> 8)]) }
        var range = CompactRange()
        for (i, leaf) in leaves.enumerated() {
            try range.append(leaf)
            #expect(range.root == TreeHash.subtreeRoot(leaves[0...i]))
            if i % 37 == 0 {
                let restored = try CompactRange(size: range.size, hashes: range.hashes)
                #expect(restored == range)
            }
        }
    }

    /// Proofs for appended leaves, made from the range before them, are `InclusionProof.make`'s over the full list:
    /// every split of 1 to 70 leaves into a range and an append, and a few larger ones across powers of two.
    @Test(arguments: [1, 2, 3, 7, 8, 13, 31, 32, 33, 64, 70])
    func proofsForAppendedLeavesAreTheFullTreesProofs(total: Int) throws {
        let leaves = (0..<total).map { TreeHash.leaf([UInt8($0 & 0xFF), UInt8($0 >> 8)]) }
        for before in 0..<total {
            var range = CompactRange()
            for leaf in leaves[..<before] { try range.append(leaf) }
            let (root, proofs) = try range.inclusionProofs(appending: Array(leaves[before...]))
            #expect(root == TreeHash.subtreeRoot(leaves[...]))
            #expect(proofs.count == total - before)
            for (i, proof) in proofs.enumerated() {
                let index = UInt64(before + i)
                #expect(proof == (try InclusionProof.make(index: index, size: UInt64(total), leafHashes: leaves)), "leaf \(index) after \(before)")
            }
        }
    }

    @Test(arguments: [(1000, 24), (1023, 1), (1024, 1), (1025, 600), (4095, 4097)])
    func proofsForLargeAppendsAreTheFullTreesProofs(before: Int, appended: Int) throws {
        let leaves = (0..<(before + appended)).map { TreeHash.leaf([UInt8($0 & 0xFF), UInt8($0 >> 8)]) }
        var range = CompactRange()
        for leaf in leaves[..<before] { try range.append(leaf) }
        let (root, proofs) = try range.inclusionProofs(appending: Array(leaves[before...]))
        #expect(root == TreeHash.subtreeRoot(leaves[...]))
        for i in [0, appended / 2, appended - 1] {
            let index = UInt64(before + i)
            #expect(proofs[i] == (try InclusionProof.make(index: index, size: UInt64(leaves.count), leafHashes: leaves)))
        }
    }

    @Test func appendingNothingOrBadHashesIsRefused() throws {
        #expect(throws: TransparencyLogError(.emptyTree, "")) { try CompactRange().inclusionProofs(appending: []) }
        #expect(throws: TransparencyLogError(.invalidHashLength, "")) { try CompactRange().inclusionProofs(appending: [[1, 2]]) }
    }

    @Test func hostileStateIsRefused() throws {
        let h = TreeHash.leaf([])
        #expect(throws: TransparencyLogError(.invalidCompactRange, "")) { try CompactRange(size: 3, hashes: [h]) }
        #expect(throws: TransparencyLogError(.invalidCompactRange, "")) { try CompactRange(size: 2, hashes: [h, h]) }
        #expect(throws: TransparencyLogError(.invalidCompactRange, "")) { try CompactRange(size: 1, hashes: [[1]]) }
        #expect(throws: TransparencyLogError(.invalidCompactRange, "")) { try CompactRange(size: 0, hashes: [h]) }
        var range = CompactRange()
        #expect(throws: TransparencyLogError(.invalidHashLength, "")) { try range.append([0]) }
        #expect(range.size == 0)
        var full = try CompactRange(size: .max, hashes: [[UInt8]](repeating: h, count: 64))
        #expect(throws: TransparencyLogError(.indexOutOfRange, "")) { try full.append(h) }
    }
}
