import CloisterTestSupport
import Foundation
import NitroAttestation
import Testing

@testable import SecureModule

/// XAES256GCM both ways with Scripts/xaes-peer.py: XAES-256-GCM written from the spec on PyPI cryptography's
/// AES-CMAC and AES-GCM (its KDF runs a real CMAC, not the one-block shortcut), run as a python3 subprocess on a
/// thread of its own. Scripts/bootstrap installs cryptography; without it these tests fail rather than skip.
@Suite struct XAESInteropTests {
    static let aad = Array("cloister-data/1 interop".utf8)

    /// The peer is checked against the spec before it is trusted as a peer.
    @Test func thePeerMatchesTheSpecsAccumulatedVector() async throws {
        let out = try await Self.peer(["accumulated", "10000"])
        #expect(Hex.decode(out) == Hex.decode(try XAESVectors.load().hash(after: 10_000)))
    }

    @Test(arguments: [0, 1, 15, 16, 17, 1000])
    func thePeerOpensWhatWeSeal(size: Int) async throws {
        let (key, nonce, plaintext) = (Random.bytes(32), Random.bytes(24), Random.bytes(size))
        let sealed = try XAES256GCM.seal(plaintext, key: key, nonce: nonce, aad: Self.aad)
        #expect(Hex.decode(try await Self.peer(["open"] + [key, nonce, sealed, Self.aad].map(Hex.encode))) == plaintext)
    }

    @Test(arguments: [0, 1, 15, 16, 17, 1000])
    func weOpenWhatThePeerSeals(size: Int) async throws {
        let (key, nonce, plaintext) = (Random.bytes(32), Random.bytes(24), Random.bytes(size))
        let sealed = try #require(Hex.decode(try await Self.peer(["seal"] + [key, nonce, plaintext, Self.aad].map(Hex.encode))))
        #expect(sealed.count == size + XAES256GCM.tagSize)
        #expect(try XAES256GCM.open(sealed, key: key, nonce: nonce, aad: Self.aad) == plaintext)
        #expect(throws: XAESError(.authenticationFailed, "")) { try XAES256GCM.open(sealed, key: key, nonce: nonce, aad: []) }
    }

    /// A ciphertext we altered is refused by the peer too.
    @Test func thePeerRefusesWhatWeAltered() async throws {
        let (key, nonce) = (Random.bytes(32), Random.bytes(24))
        var sealed = try XAES256GCM.seal(Array("pay 10 to bob".utf8), key: key, nonce: nonce, aad: Self.aad)
        sealed[0] ^= 1
        let run = try await Self.run(["open"] + [key, nonce, sealed, Self.aad].map(Hex.encode))
        #expect(run.status == 1 && run.stderr.contains("authentication failed"), "\(run.stdout) \(run.stderr)")
    }

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Scripts/xaes-peer.py").path

    static func run(_ arguments: [String]) async throws -> BuiltTool.Output {
        try await BuiltTool.run(executable: URL(fileURLWithPath: "/usr/bin/env"), ["python3", script] + arguments, environment: [:])
    }

    /// The peer's output line, or a failure that says what python3 said.
    static func peer(_ arguments: [String]) async throws -> String {
        let run = try await run(arguments)
        let hint = run.stderr.contains("No module named") ? " (python3 has no cryptography: run Scripts/bootstrap)" : ""
        try #require(run.status == 0, "xaes-peer.py failed\(hint): \(run.stderr)")
        return run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
