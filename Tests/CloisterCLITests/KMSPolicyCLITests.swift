import CloisterTestSupport
import Foundation
import Testing

/// `cloister kms policy` run as a process, its output checked by parliament (PyPI `parliament`, Duo Labs' IAM
/// policy linter, which nobody here wrote). Scripts/bootstrap installs it; without it these tests fail.
@Suite struct KMSPolicyCLITests {
    static let role = "arn:aws:iam::111122223333:role/enclave"
    static let admin = "arn:aws:iam::111122223333:role/key-admin"
    static let key = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

    static func hex(_ byte: UInt8) -> String { String(repeating: String(format: "%02X", byte), count: 48) }

    /// A Cloister manifest pinning PCR0-2, with an upgrade build and a build signed with the PCR8 certificate.
    static let manifest = """
        {"name": "kms-test", "attestation": {"pcrs": {"PCR0": "\(hex(0xA0))", "PCR1": "\(hex(0xA1))", "PCR2": "\(hex(0xA2))"}},
         "builds": [{"PCR0": "\(hex(0xB0))", "PCR1": "\(hex(0xB1))", "PCR2": "\(hex(0xB2))"}, {"PCR8": "\(hex(0xC8))"}]}
        """

    static func file(_ text: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-kms-\(UUID().uuidString).json")
        try Data(text.utf8).write(to: url)
        return url.path
    }

    static func cloister(_ arguments: [String]) throws -> BuiltTool.Output {
        try BuiltTool.runBlocking(executable: BuiltTool.directory.appendingPathComponent("cloister"), arguments, environment: [:])
    }

    /// parliament's findings for the policy in `path`, one JSON object per line with its severity.
    static func parliament(_ path: String) throws -> [[String: Any]] {
        let script = """
            import json, sys, parliament
            policy = parliament.analyze_policy_string(open(sys.argv[1]).read(), sys.argv[1])
            for f in map(parliament.enhance_finding, policy.findings):
                print(json.dumps({"issue": f.issue, "severity": f.severity, "detail": f.detail, "location": f.location}, default=str))
            """
        let run = try BuiltTool.runBlocking(executable: URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script, path], environment: [:])
        let hint = run.stderr.contains("No module named") ? " (python3 has no parliament: run Scripts/bootstrap)" : ""
        try #require(run.status == 0, "python3 with parliament failed\(hint): \(run.stderr)")
        print("parliament on \(path):\n\(run.stdout.isEmpty ? "no findings\n" : run.stdout)", terminator: "")
        return try run.stdout.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
    }

    @Test(arguments: [[], ["--key-arn", key]])
    func parliamentFindsNothingAboveLow(_ extra: [String]) throws {
        let out = try Self.cloister(["kms", "policy", "--manifest", try Self.file(Self.manifest), "--role", Self.role, "--admin", Self.admin] + extra)
        #expect(out.status == 0, "\(out.stderr)")
        let policy = try #require(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any])
        let statements = try #require(policy["Statement"] as? [[String: Any]])
        #expect(statements.compactMap { $0["Sid"] as? String } == ["Administration", "EnclaveEncrypt", "EnclaveDecrypt1", "EnclaveDecrypt2", "EnclaveDecrypt3"])
        #expect(out.stdout.contains(Self.hex(0xC8).lowercased()) && !out.stdout.contains(Self.hex(0xC8)))

        let findings = try Self.parliament(try Self.file(out.stdout))
        let serious = findings.filter { !["INFO", "LOW", "MUTE"].contains($0["severity"] as? String ?? "") }
        #expect(serious.isEmpty, "parliament: \(serious)")
    }

    @Test func refusesAManifestThatDoesNotPinTheImage() throws {
        let manifest = try Self.file("{\"attestation\": {\"pcrs\": {\"PCR0\": \"\(Self.hex(1))\"}}}")
        let out = try Self.cloister(["kms", "policy", "--manifest", manifest, "--role", Self.role, "--admin", Self.admin])
        #expect(out.status == 1)
        #expect(out.stdout.isEmpty)
        #expect(out.stderr.contains("buildNotPinned"), "\(out.stderr)")
    }

    @Test func refusesABadRoleARN() throws {
        let out = try Self.cloister(["kms", "policy", "--manifest", try Self.file(Self.manifest), "--role", "enclave", "--admin", Self.admin])
        #expect(out.status == 1)
        #expect(out.stderr.contains("invalidPrincipalARN: --role \"enclave\""), "\(out.stderr)")
    }

    @Test func helpSaysTheAdministratorStaysTrusted() throws {
        let out = try Self.cloister(["kms", "policy", "--help"])
        #expect(out.status == 0)
        #expect(out.stdout.contains("The key administrator stays trusted"), "\(out.stdout)")
    }
}
