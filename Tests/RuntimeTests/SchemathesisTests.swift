import CloisterTestSupport
import Foundation
import Testing

/// schemathesis (PyPI, installed by Scripts/bootstrap) against a live host with the key service: requests generated
/// from the description the host serves at `/openapi.json`, valid and invalid ones, with a tenant's token on every
/// route, then with the admin's on the routes a tenant may not use. No answer may be a server error, carry a status
/// or content type the description does not declare for its route, break its schema, or succeed without a token.
@Suite(.serialized) struct SchemathesisTests {
    static let checks = [
        "not_a_server_error", "status_code_conformance", "response_schema_conformance", "content_type_conformance",
        "response_headers_conformance", "ignored_auth",
    ]

    /// Runs schemathesis's command line (`st`, through its entry point, so that it does not matter where pip put the
    /// script) in `directory` (where it keeps its cache), killed after `killSeconds` whatever it is doing.
    static func schemathesis(_ arguments: [String], in directory: URL, killSeconds: Int = 90) async throws -> BuiltTool.Output {
        let entry = "from schemathesis.cli import schemathesis; schemathesis(prog_name='st')"
        return try await BuiltTool.run(
            executable: URL(fileURLWithPath: "/usr/bin/env"),
            ["-C", directory.path, "timeout", "-s", "KILL", String(killSeconds), "python3", "-c", entry] + arguments,
            environment: ["NO_COLOR": "1"])
    }

    /// One bounded run: at most `examples` generated cases per operation and phase, `seconds` in all.
    static func run(_ schema: URL, in directory: URL, token: String, seconds: Int, examples: Int = 25, only: [String] = []) async throws
        -> BuiltTool.Output
    {
        try await schemathesis(
            [
                "run", schema.absoluteString,
                "--header", "Authorization: Bearer \(token)",
                "--checks", checks.joined(separator: ","),
                "--mode", "all",
                "--phases", "examples,coverage,fuzzing",
                "--max-examples", String(examples),
                "--max-time", String(seconds),
                "--request-timeout", "20",
                // One worker: with two, hypothesis parses sources on both threads at once, which CPython 3.11's
                // parser does not survive ("AST constructor recursion depth mismatch"), failing the run on its own.
                "--workers", "1",
                "--generation-with-security-parameters", "false",
                "--suppress-health-check", "too_slow,filter_too_much",
                "--generation-database", ":memory:",
                "--no-color",
            ] + only.flatMap { ["--include-tag", $0] }, in: directory)
    }

    /// How many test cases a run's summary says it generated ("Test cases: N generated, ...").
    static func generated(_ output: String) -> Int {
        guard let range = output.range(of: #"[0-9]+ generated"#, options: .regularExpression) else { return 0 }
        return Int(output[range].prefix { $0.isNumber }) ?? 0
    }

    @Test func generatedRequestsGetDeclaredAnswers() async throws {
        let version = try await Self.schemathesis(["--version"], in: FileManager.default.temporaryDirectory)
        try #require(version.status == 0, "schemathesis is not installed (Scripts/bootstrap installs it): \(version.stderr)")
        let f = try await KeyServiceTests.start()
        let schema = f.base.appendingPathComponent("openapi.json")

        let tenant = try await Self.run(schema, in: f.host.directory, token: f.tenantToken, seconds: 25)
        #expect(
            tenant.status == 0,
            "\(version.stdout)with a tenant token, schemathesis found answers the description does not allow:\n\(tenant.stdout)\(tenant.stderr)\nhost log:\n\(f.host.tail(20))")

        let admin = try await Self.run(schema, in: f.host.directory, token: HostProcess.adminToken, seconds: 15, only: ["audit", "log", "admin"])
        #expect(
            admin.status == 0,
            "\(version.stdout)with the admin token, schemathesis found answers the description does not allow:\n\(admin.stdout)\(admin.stderr)\nhost log:\n\(f.host.tail(20))")

        // A run that loaded nothing or generated next to nothing would pass as well.
        #expect(Self.generated(tenant.stdout) >= 200, "\(tenant.stdout)")
        #expect(Self.generated(admin.stdout) >= 100, "\(admin.stdout)")

        // The enclave still serves afterwards.
        let (status, _, _) = try await f.http("GET", "v1/attestation?nonce=00")
        #expect(status == 200)
    }
}
