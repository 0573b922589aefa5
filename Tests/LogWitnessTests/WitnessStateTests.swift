import CloisterClient
import CloisterTestSupport
import Foundation
import NitroAttestation
import SecureModule
import Testing
import TransparencyLog

@testable import LogWitness

/// The witness's state file: what it remembers between rounds, read strictly, written whole.
struct WitnessStateTests {
    static let deployment = TestDeployment()
    static let leaves = TestDeployment.leaves(8)

    static func state(size: Int = 5) throws -> WitnessState {
        WitnessState(deployment: deployment.commitment, head: try LogHead.verify(deployment.head(leaves, size: size), deployment: deployment.commitment))
    }

    /// The state file's JSON with `edit` applied to its object.
    static func edited(_ edit: (inout [String: Any]) -> Void) throws -> [UInt8] {
        var object = try JSONSerialization.jsonObject(with: Data(try state().json)) as! [String: Any]
        edit(&object)
        return Array(try JSONSerialization.data(withJSONObject: object))
    }

    @Test func aStateRoundTripsAndIsSavedWhole() throws {
        let state = try Self.state()
        #expect(try WitnessState(json: state.json, deployment: Self.deployment.commitment) == state)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("witness-state-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("state.json").path
        #expect(try WitnessState.load(path: path, deployment: Self.deployment.commitment) == nil, "no file: no state yet")
        try state.save(path: path)
        let newer = try Self.state(size: 8)
        try newer.save(path: path)
        #expect(try WitnessState.load(path: path, deployment: Self.deployment.commitment) == newer)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["state.json"], "no temporary file is left")
    }

    /// State files that must be refused, each with what is wrong with it.
    static let malformed: [(String, [UInt8])] = [
        ("not JSON", Array("{".utf8)),
        ("an unknown key", try! edited { $0["secret"] = "x" }),
        ("no checkpoint", try! edited { $0["checkpoint"] = nil }),
        ("another format", try! edited { $0["format"] = "cloister-witness-state/2" }),
        ("upper-case hex", try! edited { $0["deployment"] = ($0["deployment"] as! String).uppercased() }),
        ("another deployment", try! edited { $0["deployment"] = Hex.encode(TestDeployment().commitment).lowercased() }),
        ("a head signed by another key", try! edited { $0["checkpoint"] = String(decoding: impostorHead(), as: UTF8.self) }),
        ("a head that is not a note", try! edited { $0["checkpoint"] = "hello\n" }),
        ("a number for the checkpoint", try! edited { $0["checkpoint"] = 5 }),
    ]

    @Test(arguments: malformed)
    func malformedStatesAreRefused(_ name: String, bytes: [UInt8]) throws {
        #expect(throws: WitnessError(.stateInvalid, ""), "\(name)") { try WitnessState(json: bytes, deployment: Self.deployment.commitment) }
    }

    @Test func oversizedStatesAreRefused() throws {
        let checkpoint = try Self.edited { $0["checkpoint"] = String(repeating: "a", count: SignedNote.maxBytes + 1) }
        let padded = try Self.state().json + Array(repeating: 0x20, count: WitnessState.maxBytes)
        for bytes in [checkpoint, padded] {
            #expect(throws: WitnessError(.stateInvalid, "")) { try WitnessState(json: bytes, deployment: Self.deployment.commitment) }
        }
    }

    /// A head of the deployment's origin signed by a key that is not the deployment's.
    static func impostorHead() -> [UInt8] {
        let text = deployment.checkpoint(leaves, size: 5).text
        let impostor = try! NoteSigner(name: deployment.origin, key: Ed25519Key(seed: Random.bytes(32)))
        return try! NoteSigner.sign(text: text, by: [impostor]).encoded
    }
}
