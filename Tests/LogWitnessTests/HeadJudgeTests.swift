import CloisterTestSupport
import Testing
import TransparencyLog

@testable import LogWitness

/// The witness's decision about each head the host offers, against the newest one it cosigned.
struct HeadJudgeTests {
    static let deployment = TestDeployment()
    static let leaves = TestDeployment.leaves(20)
    static let other = TestDeployment.leaves(20, salt: 1)

    static func at(_ size: Int, _ leaves: [[UInt8]] = leaves) -> Checkpoint { deployment.checkpoint(leaves, size: size) }

    @Test(arguments: [
        ("no head cosigned yet", nil, 7, HeadJudge.Step.accept),
        ("the same head", 7, 7, .accept),
        ("a larger head", 7, 12, .proofNeeded(from: 7, to: 12)),
        ("a smaller head", 12, 7, .refuse(.logRolledBack, "")),
    ] as [(String, Int?, Int, HeadJudge.Step)])
    func compare(_ name: String, seen: Int?, offered: Int, expected: HeadJudge.Step) {
        let step = HeadJudge.compare(seen: seen.map { Self.at($0) }, offered: Self.at(offered))
        switch (step, expected) {
        case (.refuse(let code, _), .refuse(let want, _)): #expect(code == want, "\(name)")
        default: #expect(step == expected, "\(name)")
        }
    }

    @Test func anotherRootAtTheSameSizeIsAFork() {
        guard case .refuse(let code, _) = HeadJudge.compare(seen: Self.at(9), offered: Self.at(9, Self.other)) else {
            Issue.record("accepted another root at the same size")
            return
        }
        #expect(code == .logForked)
    }

    @Test func theEmptyLogIsExtendedByAnyHead() throws {
        let empty = try Checkpoint(origin: Self.deployment.origin, size: 0, rootHash: TreeHash.root(leafHashes: [[UInt8]]()))
        #expect(HeadJudge.compare(seen: empty, offered: Self.at(3)) == .accept)
    }

    @Test func aProofDecidesALargerHead() throws {
        let proof = try ConsistencyProof.make(oldSize: 7, newSize: 12, leafHashes: Self.leaves)
        #expect(HeadJudge.check(seen: Self.at(7), offered: Self.at(12), proof: proof) == .accept)
        var edited = proof
        edited[0][0] ^= 0x01
        let refusals = [
            HeadJudge.check(seen: Self.at(7), offered: Self.at(12), proof: edited),
            HeadJudge.check(seen: Self.at(7), offered: Self.at(12), proof: Array(proof.dropLast())),
            HeadJudge.check(seen: Self.at(7), offered: Self.at(12, Self.other), proof: proof),
            HeadJudge.check(seen: Self.at(7), offered: Self.at(12), proof: []),
        ]
        for step in refusals {
            guard case .refuse(let code, _) = step else {
                Issue.record("accepted a proof that does not lead to the offered root")
                continue
            }
            #expect(code == .logForked)
        }
    }
}
