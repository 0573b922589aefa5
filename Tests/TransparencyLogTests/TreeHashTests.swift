import EnclaveWire
import NitroAttestation
import Testing

@testable import TransparencyLog

/// Roots against transparency-dev/merkle's reference data and against `EnclaveWire.MerkleTree`.
@Suite struct TreeHashTests {
    /// `LeafInputs()` and `RootHashes()` of GitHub transparency-dev/merkle, testonly/constants.go, commit
    /// 417fb0c314750d94e53942e9f92e79b6d35915db: the root after each of eight leaves (RFC 6962 hashing).
    static let leafInputs = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
    static let roots = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]

    static var leafHashes: [[UInt8]] { leafInputs.map { TreeHash.leaf(Hex.decode($0)!) } }

    @Test(arguments: 0...8)
    func rootMatchesReference(size: Int) throws {
        #expect(Hex.encode(try TreeHash.root(leafHashes: Self.leafHashes.prefix(size))) == Self.roots[size])
    }

    @Test func emptyRootIsSHA256OfNothing() {
        #expect(Hex.encode(TreeHash.emptyRoot) == Self.roots[0])
    }

    @Test func rootRefusesAShortLeafHash() {
        #expect(throws: TransparencyLogError(.invalidHashLength, "")) {
            try TreeHash.root(leafHashes: [[UInt8]](repeating: [1, 2, 3], count: 2))
        }
    }

    /// The existing seal hashing and this module's agree on roots, proofs and verification for every size to 70.
    @Test func agreesWithEnclaveWireMerkleTree() throws {
        let leaves = (0..<70).map { TreeHash.leaf([UInt8($0), 0xAB]) }
        for size in 1...leaves.count {
            let tree = Array(leaves.prefix(size))
            let root = MerkleTree.root(leafHashes: tree)
            #expect(try TreeHash.root(leafHashes: tree) == root)
            #expect(MerkleTree.leafHash([UInt8(size)]) == TreeHash.leaf([UInt8(size)]))
            for index in 0..<size {
                let ours = try InclusionProof.make(index: UInt64(index), size: UInt64(size), leafHashes: leaves)
                #expect(ours == MerkleTree.proof(index: index, leafHashes: tree))
                #expect(MerkleTree.verify(leafHash: tree[index], index: UInt64(index), size: UInt64(size), proof: ours, root: root))
            }
        }
    }
}
