import CloisterClient
import CloisterTestSupport
import Foundation
import NitroAttestation
import Testing

/// The README's quick start, command for command, with the real `cloister` binary against a real host running the
/// key service: connect, create, sign, verify (valid and invalid), describe, and the audit.
@Suite(.serialized) struct QuickStartTests {
    /// Runs `cloister` with `arguments` in a child process.
    static func cloister(_ arguments: [String], environment: [String: String]) async throws -> BuiltTool.Output {
        try await BuiltTool.run("cloister", arguments, environment: environment)
    }

    @Test func theQuickStartWorksAsWritten() async throws {
        let f = try await KeyServiceTests.start(register: false)
        let dir = f.host.directory
        // What Scripts/run prepares: the pins of this build and the root, written as files.
        let pins = dir.appendingPathComponent("pins.json")
        let measure = try await Self.cloister(
            ["measure", HostProcess.buildDirectory.appendingPathComponent("cloister-enclave").path, "--manifest", dir.appendingPathComponent("manifest.json").path],
            environment: [:])
        try Data(measure.stdout.utf8).write(to: pins)
        let env = [
            "CLOISTER_TOKEN": f.tenantToken, "CLOISTER_TENANT": "acme", "CLOISTER_CACHE_DIR": dir.appendingPathComponent("cache").path,
            "CLOISTER_CONFIG_DIR": dir.appendingPathComponent("config").path,
        ]
        let url = f.base.absoluteString
        let trust = ["--manifest", pins.path, "--root", dir.appendingPathComponent("emulator/root.pem").path]

        let connect = try await Self.cloister(["connect", url] + trust, environment: env)
        #expect(connect.status == 0, "\(connect.stderr)")
        #expect(connect.stdout.contains("verified: root, chain, signature, pinned PCRs, nonce, freshness"))
        try await Self.connectingAgainFindsTheSameDeployment(connect.stdout, url: url, arguments: ["connect", url] + trust, environment: env)

        // The tenant comes into being with the CLI's program key, made on first use in a 0600 file.
        let initialised = try await Self.cloister(["credential", url, "init"] + trust, environment: env)
        #expect(initialised.status == 0, "\(initialised.stderr)")
        #expect(initialised.stderr.contains("made a new program key"))
        #expect(initialised.stdout.contains("tenant root"))
        let keyFile = dir.appendingPathComponent("config/program-key.pem").path
        #expect((try FileManager.default.attributesOfItem(atPath: keyFile)[.posixPermissions] as? Int) == 0o600)

        let create = try await Self.cloister(["key", url, "create", "signer", "--type", "ed25519"] + trust, environment: env)
        #expect(create.status == 0, "\(create.stderr)")
        #expect(create.stdout.contains("\"type\":\"ed25519\""))
        #expect(create.stderr.contains("verified: signed by the attested enclave"))

        let sign = try await Self.cloister(["key", url, "sign", "signer", "--data", "pay 10 to bob"] + trust, environment: env)
        let signature = sign.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(sign.status == 0)
        #expect(signature.hasPrefix("cloister:v1:"))

        // The CLI remembers, per deployment, the newest log head it verified; an edited one is refused by name.
        let heads = dir.appendingPathComponent("config/log-heads")
        let names = try FileManager.default.contentsOfDirectory(atPath: heads.path).filter { !$0.hasSuffix(".tmp") }
        #expect(names.count == 1)
        let name = try #require(names.first)
        let headFile = heads.appendingPathComponent(name)
        let note = try [UInt8](Data(contentsOf: headFile))
        let head = try LogHead.verify(note, deployment: try #require(Hex.decode(name)))
        #expect(head.checkpoint.size >= 3, "registration, creation and signature are logged")
        var edited = note
        edited[edited.count - 5] ^= 1
        try Data(edited).write(to: headFile)
        let refusedHead = try await Self.cloister(["key", url, "sign", "signer", "--data", "x"] + trust, environment: env)
        #expect(refusedHead.status != 0)
        #expect(refusedHead.stderr.contains(headFile.path), "\(refusedHead.stderr)")
        try Data(note).write(to: headFile)

        let valid = try await Self.cloister(["key", url, "verify", "signer", "--data", "pay 10 to bob", "--signature", signature] + trust, environment: env)
        #expect(valid.status == 0)
        #expect(valid.stdout == "valid\n")
        let invalid = try await Self.cloister(["key", url, "verify", "signer", "--data", "pay 99 to eve", "--signature", signature] + trust, environment: env)
        #expect(invalid.status == 1)
        #expect(invalid.stdout == "INVALID\n")

        // Pinning another build is refused by name, before any key is used.
        let wrongPins = dir.appendingPathComponent("wrong-pins.json")
        try Data(measure.stdout.replacingOccurrences(of: "\"PCR0\": \"", with: "\"PCR0\": \"00").dropLastPCRDigits().utf8).write(to: wrongPins)
        let refused = try await Self.cloister(["connect", url, "--manifest", wrongPins.path, "--root", trust[3]], environment: env)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("pcrMismatch"), "\(refused.stderr)")

        // The operator of the host, with only its admin token: it mints a token for the tenant and signs with its own
        // program key. The enclave refuses it, and says why, in a signed answer.
        let minted = try await Self.cloister(["admin", url, "token", "acme", "--admin-token", HostProcess.adminToken], environment: [:])
        #expect(minted.status == 0, "\(minted.stderr)")
        let operatorToken = try #require(APIFixture.token(Array(minted.stdout.utf8)))
        var operatorEnv = env
        operatorEnv["CLOISTER_TOKEN"] = operatorToken
        operatorEnv["CLOISTER_CONFIG_DIR"] = dir.appendingPathComponent("operator").path
        let forged = try await Self.cloister(["key", url, "sign", "signer", "--data", "pay 1000000 to mallory"] + trust, environment: operatorEnv)
        #expect(forged.status == 1)
        #expect(forged.stderr.contains("operationFailed: unknownCredential"), "\(forged.stderr)")

        let audit = try await Self.cloister(["audit", "verify", "--from", url, "--token", f.auditorToken] + trust, environment: env)
        #expect(audit.status == 0, "\(audit.stdout)\(audit.stderr)")
        #expect(audit.stdout.contains("PASSED"))
    }
}

extension QuickStartTests {
    /// The first connect remembered the deployment it saw (in the private config directory); a second one finds
    /// it again. An enclave that holds no master secret presents no commitment, and nothing is remembered.
    static func connectingAgainFindsTheSameDeployment(_ first: String, url: String, arguments: [String], environment: [String: String]) async throws {
        let file = environment["CLOISTER_CONFIG_DIR"]! + "/known-deployments"
        let line = try #require(first.split(separator: "\n").first { $0.hasPrefix("  deployment     ") }, "\(first)")
        let again = try await cloister(arguments, environment: environment)
        #expect(again.status == 0, "\(again.stderr)")
        guard let hex = line.split(separator: " ").last.map(String.init), hex.count == 64 else {
            #expect(line.hasSuffix("none (this enclave holds no master secret)"))
            #expect(again.stdout.contains("no deployment to remember for \(url)"))
            #expect(!FileManager.default.fileExists(atPath: file))
            return
        }
        #expect(first.contains("new deployment \(hex) remembered for \(url) (in \(file))"), "\(first)")
        #expect(again.stdout.contains("deployment \(hex) matches the one remembered for \(url)"), "\(again.stdout)")
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "\(url) \(hex)\n")
    }
}

extension String {
    /// Keeps a PCR hex value its length after two digits were prepended (for a wrong pin of the right shape).
    fileprivate func dropLastPCRDigits() -> String {
        guard let range = range(of: "\"PCR0\": \"00") else { return self }
        let start = range.upperBound
        let end = index(start, offsetBy: 96)
        return replacingCharacters(in: index(end, offsetBy: -2)..<end, with: "")
    }
}
