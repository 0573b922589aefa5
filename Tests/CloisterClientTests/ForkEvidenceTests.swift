import CloisterClient
import CloisterTestSupport
import Foundation
import NitroAttestation
import SecureModule
import Testing
import TransparencyLog

/// Fork evidence: what it proves offline (only two signed heads of one size with different roots are conclusive),
/// and its file read strictly.
struct ForkEvidenceTests {
    static let deployment = TestDeployment()
    static let leaves = TestDeployment.leaves(16)
    static let forked = TestDeployment.leaves(16, salt: 7)

    static func evidence(seen: Int, offered: Int, offeredLeaves: [[UInt8]] = leaves, proof: [[UInt8]]?) -> ForkEvidence {
        ForkEvidence(
            deployment: deployment.commitment, failure: offered < seen ? .logRolledBack : .logForked, observer: "witness w1", time: 1_700_000_000,
            seen: deployment.head(leaves, size: seen), offered: deployment.head(offeredLeaves, size: offered), proof: proof, message: "refused")
    }

    static func proof(_ a: Int, _ b: Int) -> [[UInt8]] { try! ConsistencyProof.make(oldSize: UInt64(a), newSize: UInt64(b), leafHashes: leaves) }

    static var edited: [[UInt8]] {
        var p = proof(5, 9)
        p[0][0] ^= 0x01
        return p
    }

    /// Evidence files and what each shows.
    static let findings: [(String, ForkEvidence, ForkEvidence.Verdict.Finding)] = [
        ("two roots at one size", evidence(seen: 9, offered: 9, offeredLeaves: forked, proof: nil), ForkEvidence.Verdict.Finding.forkProven),
        ("the same head twice", evidence(seen: 9, offered: 9, proof: nil), .sameHead),
        ("a proof that verifies", evidence(seen: 5, offered: 9, proof: proof(5, 9)), .consistent),
        ("a proof that verifies, older head offered", evidence(seen: 9, offered: 5, proof: proof(5, 9)), .consistent),
        ("an edited proof", evidence(seen: 5, offered: 9, proof: edited), .proofFailed),
        ("a proof towards another log", evidence(seen: 5, offered: 9, offeredLeaves: forked, proof: proof(5, 9)), .proofFailed),
        ("an older head, no proof", evidence(seen: 9, offered: 5, proof: nil), .olderHead),
        ("a newer head, no proof", evidence(seen: 5, offered: 9, proof: nil), .unproven),
    ]

    @Test(arguments: findings)
    func verdicts(_ name: String, evidence: ForkEvidence, finding: ForkEvidence.Verdict.Finding) throws {
        let parsed = try ForkEvidence(json: evidence.json)
        #expect(parsed == evidence, "\(name): the file round-trips")
        let verdict = try parsed.check(deployment: Self.deployment.commitment)
        #expect(verdict.finding == finding, "\(name)")
        #expect(verdict.conclusive == (finding == .forkProven), "\(name)")
    }

    @Test func headsNotSignedByTheDeploymentProveNothing() throws {
        var e = Self.evidence(seen: 9, offered: 9, offeredLeaves: Self.forked, proof: nil)
        #expect(throws: ClientError(.malformedEvidence, "")) { try e.check(deployment: TestDeployment().commitment) }
        let impostor = try NoteSigner(name: Self.deployment.origin, key: Ed25519Key(seed: Random.bytes(32)))
        e.offered = try NoteSigner.sign(text: Self.deployment.checkpoint(Self.forked, size: 9).text, by: [impostor]).encoded
        #expect(throws: ClientError(.malformedEvidence, "")) { try e.check(deployment: Self.deployment.commitment) }
    }

    static func edited(_ edit: (inout [String: Any]) -> Void) -> [UInt8] {
        var object = try! JSONSerialization.jsonObject(with: Data(evidence(seen: 5, offered: 9, proof: proof(5, 9)).json)) as! [String: Any]
        edit(&object)
        return Array(try! JSONSerialization.data(withJSONObject: object))
    }

    /// Files that are not evidence, each with what is wrong with it.
    static let malformed: [(String, [UInt8])] = [
        ("not JSON", Array("[1,".utf8)),
        ("an array", Array("[]".utf8)),
        ("an unknown key", edited { $0["extra"] = 1 }),
        ("no offered head", edited { $0["offered"] = nil }),
        ("another format", edited { $0["format"] = "cloister-fork-evidence/0" }),
        ("an unknown failure", edited { $0["failure"] = "logEdited" }),
        ("a short deployment", edited { $0["deployment"] = "abcd" }),
        ("a negative time", edited { $0["time"] = -1 }),
        ("a fractional time", edited { $0["time"] = 1.5 }),
        ("a proof node not base64", edited { $0["proof"] = ["!!"] }),
        ("a proof node of 33 bytes", edited { $0["proof"] = [Base64.encode([UInt8](repeating: 1, count: 33))] }),
        ("a proof of 129 nodes", edited { $0["proof"] = Array(repeating: Base64.encode([UInt8](repeating: 1, count: 32)), count: 129) }),
        ("a proof that is a string", edited { $0["proof"] = "AAAA" }),
        ("an empty message", edited { $0["message"] = "" }),
    ]

    @Test(arguments: malformed)
    func malformedFilesAreRefused(_ name: String, bytes: [UInt8]) {
        #expect(throws: ClientError(.malformedEvidence, ""), "\(name)") { try ForkEvidence(json: bytes) }
    }

    @Test func oversizedFilesAreRefused() {
        let head = Self.edited { $0["seen"] = String(repeating: "a", count: SignedNote.maxBytes + 1) }
        let padded = Self.evidence(seen: 5, offered: 9, proof: nil).json + Array(repeating: 0x20, count: ForkEvidence.maxBytes)
        for bytes in [head, padded] {
            #expect(throws: ClientError(.malformedEvidence, "")) { try ForkEvidence(json: bytes) }
        }
    }
}
