import CloisterTestSupport
import EnclaveWire
import Foundation
import NitroAttestation
import SecureModule
import Testing

/// The `cloister` executable against a host of software enclaves whose documents carry a deployment commitment:
/// what `connect`, `call` and the known-deployments file do when the deployment stays, changes, or is new.
@Suite struct KnownDeploymentsCLITests {
    static let first = [UInt8](repeating: 0xD1, count: 32)
    static let second = [UInt8](repeating: 0xD2, count: 32)

    /// A private cache and config directory, the pins of `TestEnclave.image` and its root, written as files.
    struct Workspace {
        let directory: String
        var environment: [String: String] {
            ["CLOISTER_CACHE_DIR": directory + "/cache", "CLOISTER_CONFIG_DIR": directory + "/config", "CLOISTER_TENANT": "acme"]
        }
        var known: String { directory + "/config/known-deployments" }
        var trust: [String] { ["--manifest", directory + "/pins.json", "--root", EmulatedRoot.certificatePath(TestEnclave.directory)] }

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-cli-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let pcrs = TestEnclave.trust.pcrs.map { "\"PCR\($0.key)\": \"\(Hex.encode($0.value))\"" }.joined(separator: ", ")
            try Data("{\"attestation\": {\"pcrs\": {\(pcrs)}}}".utf8).write(to: URL(fileURLWithPath: directory + "/pins.json"))
        }

        func cloister(_ arguments: [String]) async throws -> BuiltTool.Output {
            try await BuiltTool.run("cloister", arguments, environment: environment)
        }

        func knownText() throws -> String { try String(contentsOfFile: known, encoding: .utf8) }
    }

    @Test func connectRemembersTheDeploymentAndRefusesAnotherUnlessAccepted() async throws {
        let host = TestHost(try await TestEnclave(deployment: Self.first))
        let url = try await host.start().absoluteString
        defer { host.stop() }
        let w = try Workspace()
        let first = Hex.encode(Self.first)
        let second = Hex.encode(Self.second)

        let connect = try await w.cloister(["connect", url] + w.trust)
        #expect(connect.status == 0, "\(connect.stderr)")
        #expect(connect.stdout.contains("  deployment     \(first)\n"), "\(connect.stdout)")
        #expect(connect.stdout.contains("new deployment \(first) remembered for \(url) (in \(w.known))"), "\(connect.stdout)")
        #expect(try w.knownText() == "\(url) \(first)\n")
        let again = try await w.cloister(["connect", url] + w.trust)
        #expect(again.stdout.contains("deployment \(first) matches the one remembered for \(url)"), "\(again.stdout)")

        // Calls start from the cached identity while it is young enough, and attest again once it is not.
        let attested = host.attestations
        let call = try await w.cloister(["call", url, "echo", "--data", "hi"] + w.trust)
        #expect(call.status == 0 && call.stdout == "hi", "\(call.stderr)")
        #expect(host.attestations == attested)
        let late = try await w.cloister(["call", url, "echo", "--data", "hi", "--reattest-after", "0"] + w.trust)
        #expect(late.status == 0, "\(late.stderr)")
        #expect(host.attestations == attested + 1)

        // The host hid the sealed master: the enclave comes back as a new deployment.
        host.restart(as: try await TestEnclave(deployment: Self.second))
        let refused = try await w.cloister(["connect", url] + w.trust)
        #expect(refused.status == 1)
        #expect(refused.stderr.hasPrefix("cloister connect: deploymentChanged: "), "\(refused.stderr)")
        #expect(refused.stderr.contains(first) && refused.stderr.contains(second) && refused.stderr.contains("--accept-new-master"), "\(refused.stderr)")
        #expect(try w.knownText() == "\(url) \(first)\n")
        let refusedCall = try await w.cloister(["call", url, "echo", "--data", "hi"] + w.trust)
        #expect(refusedCall.status == 1)
        #expect(refusedCall.stderr.contains("cloister call: deploymentChanged: "), "\(refusedCall.stderr)")

        let accepted = try await w.cloister(["connect", url, "--accept-new-master"] + w.trust)
        #expect(accepted.status == 0, "\(accepted.stderr)")
        #expect(accepted.stdout.contains("new deployment \(second) replaces \(first) for \(url)"), "\(accepted.stdout)")
        #expect(try w.knownText() == "\(url) \(second)\n")
        let after = try await w.cloister(["call", url, "echo", "--data", "hi"] + w.trust)
        #expect(after.status == 0, "\(after.stderr)")
    }

    @Test func callRemembersOnFirstUseAndRefusesACachedIdentityOfAnotherDeployment() async throws {
        let host = TestHost(try await TestEnclave(deployment: Self.first))
        let url = try await host.start().absoluteString
        defer { host.stop() }
        let w = try Workspace()
        let call = try await w.cloister(["call", url, "echo", "--data", "hi"] + w.trust)
        #expect(call.status == 0, "\(call.stderr)")
        #expect(call.stderr.contains("new deployment \(Hex.encode(Self.first)) remembered for \(url)"), "\(call.stderr)")
        #expect(try w.knownText() == "\(url) \(Hex.encode(Self.first))\n")

        // What is remembered now names another deployment than the cached identity's.
        try Data("# edited by hand\n\(url) \(Hex.encode(Self.second))\n".utf8).write(to: URL(fileURLWithPath: w.known))
        let refused = try await w.cloister(["call", url, "echo", "--data", "hi"] + w.trust)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("deploymentChanged: the cached identity"), "\(refused.stderr)")
    }

    @Test func aMalformedKnownDeploymentsFileIsAnErrorNamingTheLine() async throws {
        let w = try Workspace()
        try FileManager.default.createDirectory(atPath: w.directory + "/config", withIntermediateDirectories: true)
        try Data("# ok\nhttp://127.0.0.1:1/ not-hex\n".utf8).write(to: URL(fileURLWithPath: w.known))
        let connect = try await w.cloister(["connect", "http://127.0.0.1:1"] + w.trust)
        #expect(connect.status != 0)
        #expect(connect.stderr.contains("\(w.known):2: "), "\(connect.stderr)")
    }
}
