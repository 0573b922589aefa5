import CloisterClient
import CloisterTestSupport
import Foundation
import Synchronization
import Testing

/// One tenant's slow jobs beside another tenant's echoes, through real processes: a job is answered when it is done,
/// not when the jobs pulled with it are (the queue worker's scheduler and group commits).
@Suite(.serialized) struct FairnessTests {
    /// One answered call and when it was sent and answered.
    struct Timed: Sendable {
        var sent: ContinuousClock.Instant
        var answered: ContinuousClock.Instant
        var response: VerifiedResponse
        var latency: Duration { answered - sent }
    }

    /// One slow call, by request id, and when it was sent and answered.
    struct SlowCall: Sendable {
        var id: String
        var sent: ContinuousClock.Instant
        var answered: ContinuousClock.Instant
    }

    /// Whether the slow lanes go on.
    final class Running: Sendable {
        private let state = Mutex(true)
        var value: Bool { state.withLock { $0 } }
        func stop() { state.withLock { $0 = false } }
    }

    static let slowJobs = 6
    static let slowMs = "5000"

    @Test func anotherTenantsFiveSecondJobsLeaveTheEchoLatencyAsItIsAlone() async throws {
        let f = try await APIFixture.start()
        let admin = ["Authorization": "Bearer " + HostProcess.adminToken]
        let (s1, _, _) = try await f.http("POST", "v1/admin/tenants", headers: admin, body: Array("{\"name\":\"beta\"}".utf8))
        let (s2, b2, _) = try await f.http("POST", "v1/admin/tokens", headers: admin, body: Array("{\"tenant\":\"beta\"}".utf8))
        let betaToken = try #require(APIFixture.token(b2))
        #expect(s1 == 201 && s2 == 201)
        let slow = f.client()
        let echo = f.client(token: betaToken, tenant: "beta")
        try await slow.connect()
        try await echo.connect()
        _ = try await Self.echoes(echo, for: .milliseconds(500), tag: "warm")

        // Alone: before the slow jobs and after them (pooled, so that the machine's load drifting during the run
        // weighs on both sides alike).
        let before = try await Self.echoes(echo, for: .seconds(2), tag: "before")

        // Tenant acme keeps its 5-second jobs in flight (each lane sends the next when one is answered) while beta's
        // echoes are measured again. The slow calls go through curl, another process, so that what is measured is
        // the host and the enclave, not this process's HTTP client holding long requests beside short ones; their
        // signed answers are checked below, fetched again by request id.
        let enqueued = try await RequestPathTests.metric(f, "cloister_queue_enqueued_total")
        let running = Running()
        let url = f.base.appendingPathComponent("v1/call/sleep").absoluteString
        let lanes = Task {
            try await withThrowingTaskGroup(of: [SlowCall].self) { group in
                for lane in 0..<Self.slowJobs {
                    group.addTask {
                        var out: [SlowCall] = []
                        while running.value {
                            let id = "slow-\(lane)-\(out.count)"
                            let sent = ContinuousClock.now
                            let curl = try await BuiltTool.run(
                                executable: URL(fileURLWithPath: "/usr/bin/curl"),
                                [
                                    "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "60", "-X", "POST", "-H", "Authorization: Bearer \(f.tenantToken)",
                                    "-H", "Cloister-Request-Id: \(id)", "-H", "Content-Type: application/octet-stream", "--data-binary", Self.slowMs, url,
                                ], environment: [:])
                            #expect(curl.stdout == "200", "\(id): \(curl.stdout) \(curl.stderr)")
                            out.append(SlowCall(id: id, sent: sent, answered: .now))
                        }
                        return out
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
        }
        // Measured once the host has every lane's first job.
        let deadline = ContinuousClock.now + .seconds(20)
        while try await RequestPathTests.metric(f, "cloister_queue_enqueued_total") < enqueued + Double(Self.slowJobs) {
            guard ContinuousClock.now < deadline else { throw HarnessError("the host did not take the slow jobs within 20 s") }
            try await Task.sleep(for: .milliseconds(20))
        }
        let beside = try await Self.echoes(echo, for: .seconds(3), tag: "beside")
        running.stop()
        let slowCalls = try await lanes.value
        let alone = before + (try await Self.echoes(echo, for: .seconds(2), tag: "after"))

        let (aloneP99, besideP99) = (Self.p99(alone), Self.p99(beside))
        let report = "echo p99 alone \(aloneP99) (\(alone.count) calls), beside \(Self.slowJobs) slow jobs \(besideP99) (\(beside.count) calls)"
        print("FairnessTests: \(report)")
        #expect(alone.count >= 20 && beside.count >= 20, "too few echoes to measure: \(report)")
        #expect(besideP99 <= aloneP99 * 2 + .milliseconds(50), "\(report)")

        // The slow jobs ran, were answered with their result and receipted (fetched again by request id: the host
        // answers from the stored job).
        #expect(slowCalls.count >= Self.slowJobs)
        for call in slowCalls {
            #expect(call.answered - call.sent >= .seconds(5))
            let r = try await slow.call("sleep", body: Array(Self.slowMs.utf8), requestID: call.id)
            #expect(r.status == "ok")
            #expect(r.result == Array(Self.slowMs.utf8))
            #expect(r.receipt.receipt.operation == "sleep" && r.receipt.receipt.tenant == "acme" && r.receipt.receipt.requestID == call.id)
            // An echo answered before this job could have finished was sealed before it: receipt order is the order
            // the jobs finished in, not the order they were pulled in.
            for e in beside where e.answered < call.sent + .seconds(5) {
                #expect(e.response.receipt.receipt.sequence < r.receipt.receipt.sequence)
            }
        }
        let audit = AuditVerifier(trust: f.trust, roots: f.roots).verify(try await f.client(token: f.auditorToken).exportLog())
        #expect(audit.passed, "\(String(describing: audit.failure))")
        #expect(audit.verified >= alone.count + beside.count + slowCalls.count)
    }

    /// Echo calls on two concurrent lanes for `duration`, each timed.
    static func echoes(_ client: CloisterClient, for duration: Duration, tag: String) async throws -> [Timed] {
        let end = ContinuousClock.now + duration
        return try await withThrowingTaskGroup(of: [Timed].self) { group in
            for lane in 0..<2 {
                group.addTask {
                    var out: [Timed] = []
                    while ContinuousClock.now < end {
                        let body = Array("\(tag)-\(lane)-\(out.count)".utf8)
                        let sent = ContinuousClock.now
                        let r = try await client.call("echo", body: body)
                        out.append(Timed(sent: sent, answered: .now, response: r))
                        #expect(r.result == body)
                    }
                    return out
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
    }

    /// The 99th percentile (nearest rank) of the calls' latencies.
    static func p99(_ calls: [Timed]) -> Duration {
        let sorted = calls.map(\.latency).sorted()
        guard !sorted.isEmpty else { return .zero }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1)]
    }
}
