import CloisterClient
import CloisterTestSupport
import Foundation
import Testing

/// The host's shares against a live host (docs/api.md, Limits): the attestation rate per caller, the attestation
/// slots callers without a token may hold, and each tenant's unfinished jobs and bytes.
@Suite(.serialized) struct APILimitsTests {
    /// The manifest's `api` section with `values` set.
    static func api(_ values: [String: Any]) -> (inout [String: Any]) -> Void {
        { m in
            var api = m["api"] as! [String: Any]
            api.merge(values) { _, new in new }
            m["api"] = api
        }
    }

    /// A new tenant `name` and its token, through the admin routes.
    static func tenant(_ f: APIFixture, _ name: String) async throws -> String {
        let admin = ["Authorization": "Bearer " + HostProcess.adminToken]
        let (s1, _, _) = try await f.http("POST", "v1/admin/tenants", headers: admin, body: Array("{\"name\":\"\(name)\"}".utf8))
        let (s2, body, _) = try await f.http("POST", "v1/admin/tokens", headers: admin, body: Array("{\"tenant\":\"\(name)\"}".utf8))
        guard s1 == 201, s2 == 201, let token = APIFixture.token(body) else { throw HarnessError("tenant \(name): \(s1) \(s2)") }
        return token
    }

    /// An answer as a test reads it.
    struct Answer: CustomStringConvertible {
        var status: Int
        var code: String?
        var retryAfter: String? = nil
        var description: String { "\(status) \(code ?? "-") Retry-After \(retryAfter ?? "-")" }
    }

    /// `GET path` with curl from the loopback address `interface` (a caller other than the tests' own 127.0.0.1).
    static func get(_ f: APIFixture, _ path: String, from interface: String, token: String? = nil) async throws -> Answer {
        let dir = f.host.directory.appendingPathComponent("curl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var arguments = ["-sS", "--max-time", "60", "--interface", interface, "-o", dir.appendingPathComponent("body").path, "-w", "%{http_code}"]
        if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
        let out = try await BuiltTool.run(executable: URL(fileURLWithPath: "/usr/bin/curl"), arguments + [f.base.absoluteString + path], environment: [:])
        guard out.status == 0, let status = Int(out.stdout) else { throw HarnessError("curl: \(out.status) \(out.stdout) \(out.stderr)") }
        let body = (try? Data(contentsOf: dir.appendingPathComponent("body"))).map { Array($0) } ?? []
        return Answer(status: status, code: APIFixture.errorCode(body), retryAfter: nil)
    }

    /// `count` attestation requests without a token, all at once (one curl, a connection each); their answers.
    static func flood(_ f: APIFixture, count: Int) async throws -> [Answer] {
        let dir = f.host.directory.appendingPathComponent("flood-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var arguments = ["-s", "--max-time", "60", "--parallel", "--parallel-immediate", "--parallel-max", "100", "-w", "%{http_code} %{filename_effective}\\n"]
        for i in 0..<count {
            arguments += ["-o", dir.appendingPathComponent("\(i)").path, f.base.absoluteString + "v1/attestation?nonce=" + String(format: "%04x", i)]
        }
        let out = try await BuiltTool.run(executable: URL(fileURLWithPath: "/usr/bin/curl"), arguments, environment: [:])
        return out.stdout.split(separator: "\n").map { line in
            let parts = line.split(separator: " ", maxSplits: 1)
            let body = parts.count == 2 ? (try? Data(contentsOf: URL(fileURLWithPath: String(parts[1])))).map { Array($0) } ?? [] : []
            return Answer(status: Int(parts.first ?? "") ?? 0, code: APIFixture.errorCode(body))
        }
    }

    /// `GET path` with the tests' own URLSession, from 127.0.0.1.
    static func get(_ f: APIFixture, _ path: String, token: String? = nil) async throws -> Answer {
        let headers = token.map { ["Authorization": "Bearer " + $0] } ?? [:]
        let (status, body, fields) = try await f.http("GET", path, headers: headers)
        let retryAfter = fields.first { ($0.key as? String)?.lowercased() == "retry-after" }?.value as? String
        return Answer(status: status, code: APIFixture.errorCode(body), retryAfter: retryAfter)
    }

    /// Waits (at most 30 s) until the host's metric `name` is `value`.
    static func waitForMetric(_ f: APIFixture, _ name: String, _ value: Double) async throws {
        let deadline = Date().addingTimeInterval(30)
        while try await APIFixture.metric(f.host, name) != value {
            guard Date() < deadline else { throw HarnessError("\(name) never became \(value)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    @Test func aCallerOverTheRateIsRefusedWhileOthersAreNot() async throws {
        // Three at once, then one a minute; the harness waits for the enclave without asking for attestations.
        let f = try await APIFixture.start(readiness: .queueConnection, edit: Self.api(["attestationBurst": 3, "attestationPerMinute": 1]))
        for _ in 0..<3 { #expect(try await Self.get(f, "v1/attestation?nonce=01").status == 200) }
        let limited = try await Self.get(f, "v1/attestation?nonce=01")
        #expect(limited.status == 429 && limited.code == "rateLimited", "\(limited)")
        #expect((Int(limited.retryAfter ?? "") ?? 0) >= 1 && (Int(limited.retryAfter ?? "") ?? 0) <= 60, "\(limited)")
        // An unknown token is no token: still this address.
        #expect(try await Self.get(f, "v1/attestation?nonce=01", token: "ct_unknown").code == "rateLimited")
        // Another address is another caller.
        #expect(try await Self.get(f, "v1/attestation?nonce=02", from: "127.0.0.2").status == 200)
        // A tenant's token is counted by tenant, from the limited address or any other.
        for _ in 0..<2 { #expect(try await Self.get(f, "v1/attestation?nonce=03", token: f.tenantToken).status == 200) }
        #expect(try await Self.get(f, "v1/attestation?nonce=03", from: "127.0.0.3", token: f.tenantToken).status == 200)
        let tenantLimited = try await Self.get(f, "v1/attestation?nonce=03", token: f.tenantToken)
        #expect(tenantLimited.status == 429 && tenantLimited.code == "rateLimited" && tenantLimited.retryAfter != nil, "\(tenantLimited)")
        let beta = try await Self.tenant(f, "beta")
        #expect(try await Self.get(f, "v1/attestation?nonce=04", token: beta).status == 200)
        // A bad nonce is refused before it costs a request.
        for _ in 0..<5 { #expect(try await Self.get(f, "v1/attestation?nonce=zz", from: "127.0.0.4").code == "badNonce") }
        #expect(try await Self.get(f, "v1/attestation?nonce=05", from: "127.0.0.4").status == 200)
    }

    /// The client waits out a 429's `Retry-After` while its patience allows, and gives the 429 to its caller when not.
    @Test func aClientWaitsOutRetryAfterWithinItsPatience() async throws {
        // One attestation, then one a second.
        let f = try await APIFixture.start(readiness: .queueConnection, edit: Self.api(["attestationBurst": 1, "attestationPerMinute": 60]))
        let patient = CloisterClient(baseURL: f.base, token: f.tenantToken, trust: f.trust, roots: f.roots, patience: .seconds(30), tenant: "acme")
        let started = ContinuousClock.now
        for _ in 0..<3 { _ = try await patient.connect() }
        #expect(ContinuousClock.now - started >= .seconds(1), "two of three waited for the bucket")
        let hasty = CloisterClient(baseURL: f.base, token: f.tenantToken, trust: f.trust, roots: f.roots, patience: .milliseconds(10), tenant: "acme")
        do throws(ClientError) {
            _ = try await hasty.connect()
            Issue.record("a client without the patience for Retry-After was not refused")
        } catch {
            #expect(error.httpStatus == 429 && error.apiCode == "rateLimited", "\(error)")
        }
    }

    @Test func anAnonymousFloodLeavesATenantItsAttestation() async throws {
        // Six slots, two for callers without a token, and a rate no caller here reaches; heartbeats slow enough
        // that a stopped enclave is not restarted while the test holds it.
        let f = try await APIFixture.start { m in
            Self.api(["attestationSlots": 6, "anonymousAttestationSlots": 2, "attestationBurst": 10_000, "attestationPerMinute": 600_000])(&m)
            var bridge = m["bridge"] as! [String: Any]
            bridge["heartbeatMs"] = 2000
            bridge["missedHeartbeats"] = 15
            m["bridge"] = bridge
        }
        let pid = try #require(try await f.host.enclavePID())
        // A stopped enclave pulls nothing: every admitted request holds its slot (for up to 10 s).
        kill(pid, SIGSTOP)
        var resumed = false
        defer { if !resumed { kill(pid, SIGCONT) } }
        // More requests without a token than there are slots in all.
        async let flood = Self.flood(f, count: 10)
        try await Self.waitForMetric(f, "cloister_attestation_waiting_anonymous", 2)
        let more = try await Self.flood(f, count: 6)
        #expect(more.count == 6 && more.allSatisfy { $0.status == 503 && $0.code == "anonymousBusy" }, "\(more)")
        #expect(try await APIFixture.metric(f.host, "cloister_attestation_waiting") == 2)
        // The tenant's request finds a slot and waits for the enclave like any other.
        async let mine = Self.get(f, "v1/attestation?nonce=aa", token: f.tenantToken)
        try await Self.waitForMetric(f, "cloister_attestation_waiting", 3)
        kill(pid, SIGCONT)
        resumed = true
        let answer = try await mine
        #expect(answer.status == 200, "\(answer)")
        let first = try await flood
        #expect(first.count == 10)
        #expect(first.filter { $0.status == 200 }.count >= 2, "\(first)")
        #expect(first.allSatisfy { $0.status == 200 || ($0.status == 503 && $0.code == "anonymousBusy") }, "\(first)")
        try await Self.waitForMetric(f, "cloister_attestation_waiting", 0)
        #expect(try await Self.get(f, "v1/attestation?nonce=bb").status == 200)
    }

    /// A call of `sleep` for `ms` milliseconds (the body: the number, padded with zeros to `width` bytes).
    static func sleep(_ f: APIFixture, token: String, id: String, ms: Int = 5000, width: Int = 4) async throws -> Answer {
        let body = String(repeating: "0", count: max(0, width - String(ms).count)) + String(ms)
        let (status, answer, fields) = try await f.http(
            "POST", "v1/call/sleep", headers: ["Authorization": "Bearer " + token, "Cloister-Request-Id": id], body: Array(body.utf8))
        let retryAfter = fields.first { ($0.key as? String)?.lowercased() == "retry-after" }?.value as? String
        return Answer(status: status, code: APIFixture.errorCode(answer), retryAfter: retryAfter)
    }

    /// Waits (at most 60 s) until the request `id` of the tenant with `token` is finished.
    static func waitFinished(_ f: APIFixture, token: String, id: String) async throws {
        let deadline = Date().addingTimeInterval(60)
        while try await f.http("GET", "v1/requests/\(id)", headers: ["Authorization": "Bearer " + token]).0 != 200 {
            guard Date() < deadline else { throw HarnessError("request \(id) did not finish") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    @Test func aTenantAtItsLimitsIsRefusedWhileOthersSubmitAndTheCountsSurviveARestart() async throws {
        // waitMs 0: a call is answered 202 once committed. Three unfinished jobs and 64 body bytes per tenant.
        let f = try await APIFixture.start(edit: Self.api(["waitMs": 0, "maxBodyBytes": 64, "tenantMaxQueuedJobs": 3, "tenantMaxBytesInFlight": 64]))
        let acme = f.tenantToken
        let beta = try await Self.tenant(f, "beta")
        let gamma = try await Self.tenant(f, "gamma")

        for i in 0..<3 { #expect(try await Self.sleep(f, token: acme, id: "a\(i)").status == 202) }
        let full = try await Self.sleep(f, token: acme, id: "a3")
        #expect(full.status == 429 && full.code == "tenantQueueFull" && full.retryAfter == "1", "\(full)")
        // The same request again is answered from its job, not refused.
        #expect(try await Self.sleep(f, token: acme, id: "a1").status == 202)
        // Another tenant still submits; at its byte limit it is refused in turn, while a third is not.
        #expect(try await Self.sleep(f, token: beta, id: "b0", width: 40).status == 202)
        let bytes = try await Self.sleep(f, token: beta, id: "b1", width: 40)
        #expect(bytes.status == 429 && bytes.code == "tenantBytesInFlight" && bytes.retryAfter == "1", "\(bytes)")
        #expect(try await Self.sleep(f, token: beta, id: "b2", width: 24).status == 202)
        #expect(try await Self.sleep(f, token: gamma, id: "g0", width: 40).status == 202)

        // The host dies with the jobs unfinished; the restarted host reads them back and counts them again.
        let orphan = try await f.host.enclavePID()
        _ = try await f.host.stop(SIGKILL)
        try await HostProcess.waitGone(orphan)
        // (Ready once the enclave's queue connection is up: its worker answers attestations only between jobs.)
        let g = try await APIFixture.start(
            restart: f, readiness: .queueConnection,
            edit: Self.api(["waitMs": 0, "maxBodyBytes": 64, "tenantMaxQueuedJobs": 3, "tenantMaxBytesInFlight": 64]))
        let again = try await Self.sleep(g, token: acme, id: "a3")
        #expect(again.status == 429 && again.code == "tenantQueueFull", "\(again)")

        // Once they finish the counts are back to nothing: the whole limit is there again, and no more.
        for id in ["a0", "a1", "a2"] { try await Self.waitFinished(g, token: acme, id: id) }
        for id in ["b0", "b2"] { try await Self.waitFinished(g, token: beta, id: id) }
        for i in 4..<7 { #expect(try await Self.sleep(g, token: acme, id: "a\(i)", ms: 3000).status == 202) }
        #expect(try await Self.sleep(g, token: acme, id: "a7").code == "tenantQueueFull")
        #expect(try await Self.sleep(g, token: beta, id: "b3", width: 64).status == 202)
        #expect(try await Self.sleep(g, token: beta, id: "b4", ms: 1, width: 1).code == "tenantBytesInFlight")
    }
}
