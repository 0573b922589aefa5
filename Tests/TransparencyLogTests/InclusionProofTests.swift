import NitroAttestation
import Testing

@testable import TransparencyLog

@Suite struct InclusionProofTests {
    /// transparency-dev/merkle's inclusion vectors: each verifies, or fails, as its `wantErr` says.
    @Test(arguments: Vectors.inclusion)
    func vector(_ v: Vectors.Inclusion) {
        let run = { () throws(TransparencyLogError) in
            try InclusionProof.verify(
                leafHash: Vectors.bytes(v.leafHash), index: v.leafIdx, size: v.treeSize,
                proof: (v.proof ?? []).map(Vectors.bytes), root: Vectors.bytes(v.root))
        }
        Vectors.expect(v.wantErr, hashes: [v.leafHash, v.root] + (v.proof ?? []), v.desc, run)
    }

    @Test func vectorsAreLoaded() {
        #expect(Vectors.inclusion.count >= 90)
        #expect(Vectors.inclusion.contains { !$0.wantErr })
    }

    /// Every proof made for every leaf of every tree up to 33 leaves verifies, has the computed length, and fails
    /// for any other leaf.
    @Test func madeProofsVerify() throws {
        let leaves = (0..<33).map { TreeHash.leaf([UInt8($0)]) }
        for size in 1...UInt64(leaves.count) {
            let root = try TreeHash.root(leafHashes: leaves.prefix(Int(size)))
            for index in 0..<size {
                let proof = try InclusionProof.make(index: index, size: size, leafHashes: leaves)
                #expect(proof.count == InclusionProof.length(index: index, size: size))
                try InclusionProof.verify(leafHash: leaves[Int(index)], index: index, size: size, proof: proof, root: root)
                let other = leaves[Int((index + 1) % size)]
                if size > 1 {
                    #expect(throws: TransparencyLogError(.rootMismatch, "")) {
                        try InclusionProof.verify(leafHash: other, index: index, size: size, proof: proof, root: root)
                    }
                }
            }
        }
    }

    static let leaves = (0..<8).map { TreeHash.leaf([UInt8($0)]) }
    static let root = try! TreeHash.root(leafHashes: leaves)
    static let proof = try! InclusionProof.make(index: 5, size: 8, leafHashes: leaves)

    struct Hostile: Sendable, CustomTestStringConvertible {
        let name: String
        let leafHash: [UInt8]
        let index: UInt64
        let size: UInt64
        let proof: [[UInt8]]
        let root: [UInt8]
        let code: TransparencyLogErrorCode
        var testDescription: String { name }
    }

    static let hostile: [Hostile] = [
        .init(name: "size 0", leafHash: leaves[5], index: 0, size: 0, proof: [], root: TreeHash.emptyRoot, code: .emptyTree),
        .init(name: "index = size", leafHash: leaves[5], index: 8, size: 8, proof: proof, root: root, code: .indexOutOfRange),
        .init(name: "index > size", leafHash: leaves[5], index: .max, size: 8, proof: proof, root: root, code: .indexOutOfRange),
        .init(name: "proof one short", leafHash: leaves[5], index: 5, size: 8, proof: Array(proof.dropLast()), root: root, code: .wrongProofLength),
        .init(name: "proof one long", leafHash: leaves[5], index: 5, size: 8, proof: proof + [proof[0]], root: root, code: .wrongProofLength),
        .init(name: "a node duplicated in place of another", leafHash: leaves[5], index: 5, size: 8, proof: [proof[0], proof[0], proof[2]], root: root, code: .rootMismatch),
        .init(name: "65 nodes", leafHash: leaves[5], index: 5, size: .max, proof: [[UInt8]](repeating: proof[0], count: 65), root: root, code: .wrongProofLength),
        .init(name: "short node", leafHash: leaves[5], index: 5, size: 8, proof: [proof[0], [1], proof[2]], root: root, code: .invalidHashLength),
        .init(name: "short leaf hash", leafHash: [], index: 5, size: 8, proof: proof, root: root, code: .invalidHashLength),
        .init(name: "long root", leafHash: leaves[5], index: 5, size: 8, proof: proof, root: root + [0], code: .invalidHashLength),
        .init(name: "another size, another proof length", leafHash: leaves[5], index: 5, size: 6, proof: proof, root: root, code: .wrongProofLength),
        .init(name: "another size, same proof length", leafHash: leaves[5], index: 5, size: 12, proof: proof + [proof[0]], root: root, code: .rootMismatch),
        .init(name: "nodes swapped", leafHash: leaves[5], index: 5, size: 8, proof: [proof[1], proof[0], proof[2]], root: root, code: .rootMismatch),
    ]

    @Test(arguments: hostile)
    func hostileProofIsRefused(_ h: Hostile) {
        #expect(throws: TransparencyLogError(h.code, "")) {
            try InclusionProof.verify(leafHash: h.leafHash, index: h.index, size: h.size, proof: h.proof, root: h.root)
        }
    }

    @Test func makeRefusesBadArguments() {
        #expect(throws: TransparencyLogError(.emptyTree, "")) { try InclusionProof.make(index: 0, size: 0, leafHashes: []) }
        #expect(throws: TransparencyLogError(.indexOutOfRange, "")) { try InclusionProof.make(index: 3, size: 3, leafHashes: Self.leaves) }
        #expect(throws: TransparencyLogError(.indexOutOfRange, "")) { try InclusionProof.make(index: 0, size: 9, leafHashes: Self.leaves) }
        #expect(throws: TransparencyLogError(.invalidHashLength, "")) { try InclusionProof.make(index: 0, size: 2, leafHashes: [[0], [1]]) }
    }

    @Test func singleLeafTreeHasAnEmptyProof() throws {
        try InclusionProof.verify(leafHash: Self.leaves[0], index: 0, size: 1, proof: [], root: Self.leaves[0])
    }
}
