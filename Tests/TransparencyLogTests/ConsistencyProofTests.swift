import NitroAttestation
import Testing

@testable import TransparencyLog

@Suite struct ConsistencyProofTests {
    /// transparency-dev/merkle's consistency vectors: each verifies, or fails, as its `wantErr` says.
    @Test(arguments: Vectors.consistency)
    func vector(_ v: Vectors.Consistency) {
        let run = { () throws(TransparencyLogError) in
            try ConsistencyProof.verify(
                oldSize: v.size1, newSize: v.size2, proof: (v.proof ?? []).map(Vectors.bytes),
                oldRoot: Vectors.bytes(v.root1), newRoot: Vectors.bytes(v.root2))
        }
        Vectors.expect(v.wantErr, hashes: [v.root1, v.root2] + (v.proof ?? []), v.desc, run)
    }

    @Test func vectorsAreLoaded() {
        #expect(Vectors.consistency.count >= 90)
        #expect(Vectors.consistency.contains { !$0.wantErr })
    }

    /// Every proof between every two sizes up to 40 leaves verifies with the computed length, and fails against
    /// a tree that differs in any single leaf of the old one.
    @Test func madeProofsVerify() throws {
        let leaves = (0..<40).map { TreeHash.leaf([UInt8($0)]) }
        let roots = try (0...leaves.count).map { try TreeHash.root(leafHashes: leaves.prefix($0)) }
        for n in 1...UInt64(leaves.count) {
            for m in 1...n {
                let proof = try ConsistencyProof.make(oldSize: m, newSize: n, leafHashes: leaves)
                #expect(proof.count == ConsistencyProof.length(oldSize: m, newSize: n))
                try ConsistencyProof.verify(oldSize: m, newSize: n, proof: proof, oldRoot: roots[Int(m)], newRoot: roots[Int(n)])
                var forked = leaves
                forked[Int(m) - 1] = TreeHash.leaf([0xFF])
                let forkedOld = try TreeHash.root(leafHashes: forked.prefix(Int(m)))
                #expect(throws: TransparencyLogError(.rootMismatch, "")) {
                    try ConsistencyProof.verify(oldSize: m, newSize: n, proof: proof, oldRoot: forkedOld, newRoot: roots[Int(n)])
                }
            }
        }
    }

    static let leaves = (0..<8).map { TreeHash.leaf([UInt8($0)]) }
    static let root3 = try! TreeHash.root(leafHashes: leaves.prefix(3))
    static let root8 = try! TreeHash.root(leafHashes: leaves)
    static let proof = try! ConsistencyProof.make(oldSize: 3, newSize: 8, leafHashes: leaves)

    struct Hostile: Sendable, CustomTestStringConvertible {
        let name: String
        let oldSize: UInt64
        let newSize: UInt64
        let proof: [[UInt8]]
        let oldRoot: [UInt8]
        let newRoot: [UInt8]
        let code: TransparencyLogErrorCode
        var testDescription: String { name }
    }

    static let hostile: [Hostile] = [
        .init(name: "from size 0", oldSize: 0, newSize: 8, proof: [], oldRoot: TreeHash.emptyRoot, newRoot: root8, code: .emptyTree),
        .init(name: "sizes out of order", oldSize: 8, newSize: 3, proof: proof, oldRoot: root8, newRoot: root3, code: .sizesOutOfOrder),
        .init(name: "proof one short", oldSize: 3, newSize: 8, proof: Array(proof.dropLast()), oldRoot: root3, newRoot: root8, code: .wrongProofLength),
        .init(name: "proof one long", oldSize: 3, newSize: 8, proof: proof + [proof[0]], oldRoot: root3, newRoot: root8, code: .wrongProofLength),
        .init(name: "a node duplicated in place of another", oldSize: 3, newSize: 8, proof: [proof[0], proof[0]] + proof.dropFirst(2), oldRoot: root3, newRoot: root8, code: .rootMismatch),
        .init(name: "empty proof between different sizes", oldSize: 3, newSize: 8, proof: [], oldRoot: root3, newRoot: root8, code: .wrongProofLength),
        .init(name: "equal sizes, proof not empty", oldSize: 8, newSize: 8, proof: [root8], oldRoot: root8, newRoot: root8, code: .wrongProofLength),
        .init(name: "equal sizes, different roots (a fork)", oldSize: 8, newSize: 8, proof: [], oldRoot: root3, newRoot: root8, code: .rootMismatch),
        .init(name: "swapped roots", oldSize: 3, newSize: 8, proof: proof, oldRoot: root8, newRoot: root3, code: .rootMismatch),
        .init(name: "short node", oldSize: 3, newSize: 8, proof: [[1]] + proof.dropFirst(), oldRoot: root3, newRoot: root8, code: .invalidHashLength),
        .init(name: "short old root", oldSize: 3, newSize: 8, proof: proof, oldRoot: [], newRoot: root8, code: .invalidHashLength),
        .init(name: "129 nodes", oldSize: 3, newSize: .max, proof: [[UInt8]](repeating: root3, count: 129), oldRoot: root3, newRoot: root8, code: .wrongProofLength),
    ]

    @Test(arguments: hostile)
    func hostileProofIsRefused(_ h: Hostile) {
        #expect(throws: TransparencyLogError(h.code, "")) {
            try ConsistencyProof.verify(oldSize: h.oldSize, newSize: h.newSize, proof: h.proof, oldRoot: h.oldRoot, newRoot: h.newRoot)
        }
    }

    @Test func makeRefusesBadArguments() {
        #expect(throws: TransparencyLogError(.emptyTree, "")) { try ConsistencyProof.make(oldSize: 0, newSize: 3, leafHashes: Self.leaves) }
        #expect(throws: TransparencyLogError(.sizesOutOfOrder, "")) { try ConsistencyProof.make(oldSize: 4, newSize: 3, leafHashes: Self.leaves) }
        #expect(throws: TransparencyLogError(.indexOutOfRange, "")) { try ConsistencyProof.make(oldSize: 4, newSize: 9, leafHashes: Self.leaves) }
    }

    @Test func largeSizesHaveShortProofLengths() {
        #expect(ConsistencyProof.length(oldSize: 1, newSize: .max) <= 64)
        #expect(ConsistencyProof.length(oldSize: .max - 1, newSize: .max) <= 128)
        #expect(InclusionProof.length(index: 0, size: .max) == 64)
        #expect(InclusionProof.length(index: .max - 1, size: .max) == 63)
    }
}
