import Testing

@testable import EnclaveWire

@Suite struct MerkleTreeTests {
    /// Plain SHA-256 (pinned to FIPS vectors in ReceiptTests), so the reference below shares no Merkle code.
    static func sha256(_ bytes: [UInt8]) -> [UInt8] { Receipt.hash(encoded: bytes) }

    /// MTH straight from RFC 9162, section 2.1.1, over the leaves themselves (not their hashes):
    /// MTH({d0}) = SHA-256(0x00 || d0); MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])), with k the
    /// largest power of two smaller than n.
    static func referenceMTH(_ leaves: ArraySlice<[UInt8]>) -> [UInt8] {
        if leaves.count == 1 { return sha256([0x00] + leaves.first!) }
        let k = 1 << (Int.bitWidth - 1 - (leaves.count - 1).leadingZeroBitCount)
        let split = leaves.startIndex + k
        return sha256([0x01] + referenceMTH(leaves[..<split]) + referenceMTH(leaves[split...]))
    }

    /// PATH(m, D[n]) from RFC 9162, section 2.1.3.1: the audit path of leaf m, deepest sibling first.
    static func referencePath(_ m: Int, _ leaves: ArraySlice<[UInt8]>) -> [[UInt8]] {
        if leaves.count == 1 { return [] }
        let k = 1 << (Int.bitWidth - 1 - (leaves.count - 1).leadingZeroBitCount)
        let split = leaves.startIndex + k
        return m < k
            ? referencePath(m, leaves[..<split]) + [referenceMTH(leaves[split...])]
            : referencePath(m - k, leaves[split...]) + [referenceMTH(leaves[..<split])]
    }

    /// Distinct leaves of varying length, so that no two leaves (or subtrees) of a test tree hash alike.
    static func leaves(_ count: Int) -> [[UInt8]] {
        (0..<count).map { i in Array("leaf \(i)".utf8) + filled(UInt8(i), i % 5) }
    }

    static func leafHashes(_ count: Int) -> [[UInt8]] { leaves(count).map(MerkleTree.leafHash) }

    @Test func rootOfThreeLeavesMatchesAnIndependentlyComputedVector() {
        // python3: h = lambda b: hashlib.sha256(b).digest(); a, b, c = (h(b"\x00" + x) for x in (b"a", b"b", b"c"))
        //          h(b"\x01" + h(b"\x01" + a + b) + c).hex()
        let root = MerkleTree.root(leafHashes: ["a", "b", "c"].map { MerkleTree.leafHash(Array($0.utf8)) })
        #expect(hex(root) == "36642e73c2540ab121e3a6bf9545b0a24982cd830eb13d3cd19de3ce6c021ec1")
    }

    /// The one-pass builder the enclave seals with gives the same root and paths as the definitions.
    @Test(arguments: [1, 2, 3, 5, 8, 13, 31, 64, 65, 100, 200])
    func allProofsAtOnceMatchTheDefinition(size: Int) {
        let leaves = Self.leaves(size)
        let hashes = Self.leafHashes(size)
        let (root, proofs) = MerkleTree.rootAndProofs(leafHashes: hashes)
        #expect(root == Self.referenceMTH(leaves[...]))
        #expect(proofs.count == size)
        for i in 0..<size {
            #expect(proofs[i] == Self.referencePath(i, leaves[...]), "leaf \(i) of \(size)")
            #expect(MerkleTree.verify(leafHash: hashes[i], index: UInt64(i), size: UInt64(size), proof: proofs[i], root: root))
        }
    }

    @Test func leafHashIsDomainSeparated() {
        let leaf = Array("a".utf8)
        #expect(MerkleTree.leafHash(leaf) == Self.sha256([0x00] + leaf))
        #expect(MerkleTree.nodeHash(filled(1), filled(2)) == Self.sha256([0x01] + filled(1) + filled(2)))
    }

    @Test(arguments: 1...40)
    func rootMatchesTheRFCDefinition(size: Int) {
        #expect(MerkleTree.root(leafHashes: Self.leafHashes(size)) == Self.referenceMTH(Self.leaves(size)[...]))
    }

    @Test(arguments: 1...40)
    func proofsMatchTheRFCDefinition(size: Int) {
        let hashes = Self.leafHashes(size)
        for index in 0..<size {
            #expect(
                MerkleTree.proof(index: index, leafHashes: hashes) == Self.referencePath(index, Self.leaves(size)[...]))
        }
    }

    @Test(arguments: 1...40)
    func everyProofVerifies(size: Int) {
        let hashes = Self.leafHashes(size)
        let root = MerkleTree.root(leafHashes: hashes)
        // An audit path holds one hash per level below the root: ceil(log2(size)) at most.
        let depth = size == 1 ? 0 : Int.bitWidth - (size - 1).leadingZeroBitCount
        for index in 0..<size {
            let proof = MerkleTree.proof(index: index, leafHashes: hashes)
            #expect(proof.count <= depth && proof.allSatisfy { $0.count == 32 })
            #expect(
                MerkleTree.verify(
                    leafHash: hashes[index], index: UInt64(index), size: UInt64(size), proof: proof, root: root))
        }
    }

    /// Each way of presenting a valid proof wrongly; the names collect the ones that verified anyway.
    @Test(arguments: 1...40)
    func everyAlteredProofFails(size: Int) {
        let hashes = Self.leafHashes(size)
        let n = UInt64(size)
        // Trees of other sizes over the same leaves, for presenting a proof with a wrong size.
        let trees = (1...size + 8).map { other in
            let hashes = Self.leafHashes(other)
            return (hashes: hashes, root: MerkleTree.root(leafHashes: hashes))
        }
        let root = trees[size - 1].root
        var accepted: [String] = []
        for index in 0..<size {
            let proof = MerkleTree.proof(index: index, leafHashes: hashes)
            let i = UInt64(index)
            /// Records `what` when the proof verifies; what is not given is the valid proof's.
            func refuse(
                _ what: String, leaf: [UInt8]? = nil, index: UInt64 = i, size: UInt64 = n, proof: [[UInt8]] = proof,
                root: [UInt8] = root
            ) {
                let leaf = leaf ?? hashes[Int(i)]
                if MerkleTree.verify(leafHash: leaf, index: index, size: size, proof: proof, root: root) {
                    accepted.append("index \(i): \(what)")
                }
            }
            for (e, element) in proof.enumerated() {
                for byte in element.indices {
                    var altered = proof
                    altered[e][byte] ^= 0x01
                    refuse("element \(e) byte \(byte) flipped", proof: altered)
                }
                var short = proof
                short[e] = Array(element.prefix(31))
                refuse("element \(e) of 31 bytes", proof: short)
                var long = proof
                long[e] = element + [0]
                refuse("element \(e) of 33 bytes", proof: long)
            }
            for other in 0..<size + 3 where other != index {
                refuse("presented as index \(other)", index: UInt64(other))
            }
            // A different size, against the root a tree of that size over the same leaves has; and against this
            // tree's own root, whenever that size's audit path for the index has another length. (A size whose
            // paths have the same shape does verify against the own root: the proof binds the path's shape, and
            // the seal that signs count and root together binds the size.)
            for other in 1...size + 8 where other != size && index < other {
                refuse("in a tree of \(other)", size: UInt64(other), root: trees[other - 1].root)
                if MerkleTree.proof(index: index, leafHashes: trees[other - 1].hashes).count != proof.count {
                    refuse("with size \(other) and this root", size: UInt64(other))
                }
            }
            refuse("wrong leaf", leaf: Self.sha256(hashes[index]))
            if !proof.isEmpty {
                refuse("last element dropped", proof: proof.dropLast())
                refuse("first element dropped", proof: Array(proof.dropFirst()))
            }
            if proof.count > 1 { refuse("elements reversed", proof: proof.reversed()) }
            refuse("extra element", proof: proof + [filled(0)])
            refuse("root repeated", proof: proof + [root])
            refuse("31-byte extra element", proof: proof + [filled(0, 31)])
            refuse("a 31-byte root", root: Array(root.prefix(31)))
            refuse("size 0", size: 0)
            refuse("index = size", index: n)
            refuse("index 2^64-1", index: .max)
        }
        #expect(accepted.isEmpty, "these altered proofs verified: \(accepted.prefix(20))")
    }

    @Test func singleLeafTreeIsItsLeafHash() {
        let leaf = MerkleTree.leafHash([7])
        #expect(MerkleTree.root(leafHashes: [leaf]) == leaf)
        #expect(MerkleTree.proof(index: 0, leafHashes: [leaf]).isEmpty)
        #expect(MerkleTree.verify(leafHash: leaf, index: 0, size: 1, proof: [], root: leaf))
    }

    /// The proof length bound is checked before any hashing: a proof one element past a 2^32-leaf tree is
    /// refused, one at the bound is walked.
    @Test func proofsLongerThanMaxProofLengthAreRefused() {
        let size: UInt64 = 1 << 32
        let index = size - 1
        let proof = (0..<MerkleTree.maxProofLength).map { filled(UInt8($0)) }
        var root = filled(0xEE)
        for p in proof { root = MerkleTree.nodeHash(p, root) }
        #expect(MerkleTree.verify(leafHash: filled(0xEE), index: index, size: size, proof: proof, root: root))
        #expect(
            !MerkleTree.verify(leafHash: filled(0xEE), index: index, size: size, proof: proof + [filled(0)], root: root)
        )
        let tooLong = (0...MerkleTree.maxProofLength).map { _ in filled(1) }
        #expect(!MerkleTree.verify(leafHash: filled(0xEE), index: 0, size: .max, proof: tooLong, root: root))
    }

    @Test(arguments: [(2, 1), (3, 2), (4, 2), (5, 4), (8, 4), (9, 8), (1025, 1024)])
    func largestPowerOfTwoBelow(n: Int, expected: Int) {
        #expect(MerkleTree.largestPowerOfTwo(below: n) == expected)
    }
}
