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
