import Foundation
import VsockBridge
import Testing

@testable import NitroAttestation

/// The emulated secure module through the CLI, as a user runs it: init the root, measure, attest, verify.
@Suite(.serialized) struct EmulatorCLITests {
    let state = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-emulator-cli-\(UUID().uuidString)").path
    var env: [String: String] { ["CLOISTER_EMULATOR_DIR": state] }

    func attest(_ extra: [String] = []) throws -> (doc: String, pins: String, root: String) {
        #expect(try CLI.run(["nsm", "emulator", "init"], environment: env).status == 0)
        let image = CLI.binary.path
        let measured = try CLI.run(["measure", image, "--instance-id", "i-test"], environment: env)
        #expect(measured.status == 0)
        let pins = try CLI.temporaryFile(Array(measured.stdout.utf8))
        let doc = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-emulated-\(UUID().uuidString).cbor").path
        let attested = try CLI.run(["nsm", "attest", "--image", image, "--instance-id", "i-test", "--out", doc] + extra, environment: env)
        #expect(attested.status == 0, "\(attested.stderr)")
        #expect(attested.stderr.contains("SOFTWARE EMULATION"), "the chosen module is logged plainly")
        return (doc, pins, state + "/root.pem")
    }

    @Test func attestThenVerifyAgainstTheEmulatedRootAndMeasuredPins() throws {
        let (doc, pins, root) = try attest(["--nonce", "0badc0de", "--user-data", "cafe"])
        let ok = try CLI.run(["attestation", "verify", "--root", root, "--manifest", pins, "--nonce", "0badc0de", "--max-age", "300", doc])
        #expect(ok.status == 0, "\(ok.stdout)")
        #expect(ok.stdout.contains("EMULATED"))
        let aws = try CLI.run(["attestation", "verify", "--json", "--manifest", pins, doc])
        #expect(aws.status == 1)
        #expect((aws.jsonLines.first?["error"] as? [String: Any])?["code"] as? String == "untrustedRoot")
    }

    @Test func anotherBuildDoesNotMatchThePins() throws {
        let (doc, _, root) = try attest()
        let other = try CLI.temporaryFile(Array("a different enclave build".utf8))
        let measured = try CLI.run(["measure", other], environment: env)
        let pins = try CLI.temporaryFile(Array(measured.stdout.utf8))
        let r = try CLI.run(["attestation", "verify", "--json", "--root", root, "--manifest", pins, doc])
        #expect((r.jsonLines.first?["error"] as? [String: Any])?["code"] as? String == "pcrMismatch")
    }

    @Test func emulatorRootShowsItsFingerprint() throws {
        #expect(try CLI.run(["nsm", "emulator", "init"], environment: env).status == 0)
        let r = try CLI.run(["nsm", "emulator", "root"], environment: env)
        #expect(r.status == 0)
        #expect(r.stdout.contains("BEGIN CERTIFICATE"))
        let pem = try String(contentsOfFile: state + "/root.pem", encoding: .utf8)
        let fingerprint = Hex.encode(try X509Certificate.fromPEM(pem)[0].sha256).uppercased()
        #expect(r.stdout.contains(fingerprint))
        let missing = try CLI.run(["nsm", "emulator", "root", "--state-dir", state + "/none"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("nsm emulator init"))
    }

    @Test func forcingTheDeviceWhereThereIsNoneFailsClearly() throws {
        let r = try CLI.run(["nsm", "describe", "--module", "device"], environment: env)
        #expect(r.status != 0)
        #expect(r.stderr.contains("/dev/nsm"))
    }

    /// A peer nobody here wrote the crypto of (Python cbor2 + cryptography) agrees the emulated documents verify.
    @Test func thePythonReferenceVerifierAcceptsEmulatedDocuments() throws {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["python3", "-c", "import cbor2, cryptography"]
        probe.standardError = Pipe()
        let available = (try? probe.run()) != nil && { probe.waitUntilExit(); return probe.terminationStatus == 0 }()
        guard available else {
            print("SKIP: python3 with cbor2 and cryptography is not installed (Scripts/bootstrap installs them); the peer check did not run")
            return
        }
        let (doc, _, root) = try attest(["--nonce", "01"])
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Scripts/reference-verifier.py").path
        let peer = Process()
        peer.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        peer.arguments = ["python3", script, "--root", root, "--at", "now", doc]
        let out = Pipe()
        peer.standardOutput = out
        try peer.run()
        let text = String(decoding: PipeReader.readAll(out.fileHandleForReading), as: UTF8.self)
        peer.waitUntilExit()
        #expect(peer.terminationStatus == 0, "\(text)")
        #expect(text.hasPrefix("OK"))
    }
}
