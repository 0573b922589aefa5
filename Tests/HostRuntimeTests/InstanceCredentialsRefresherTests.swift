import CloisterTestSupport
import Foundation
import HostRuntime
import Logging
import Testing

/// The refresher against the local metadata stand-in, with credentials that live only a few seconds.
@Suite struct InstanceCredentialsRefresherTests {
    static func refresher(port: Int) throws -> InstanceCredentialsRefresher {
        var configuration = InstanceCredentialsRefresher.Configuration()
        configuration.minimumInterval = .milliseconds(100)
        configuration.retry = RetryBackoff(initial: .milliseconds(50), maximum: .milliseconds(400))
        // A generous timeout: the suite runs beside hundreds of other tests on a loaded machine.
        let client = try InstanceMetadataClientTests.client(port: port, attempts: 1, timeout: .seconds(5))
        return try InstanceCredentialsRefresher(
            source: client,
            configuration: configuration,
            logger: Logger(label: "test")
        )
    }

    /// Polls `condition` every 20 ms until it holds or `timeout` passes.
    static func eventually(within timeout: Duration = .seconds(60), _ condition: () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    @Test func refreshesBeforeExpiryWithNoGap() async throws {
        let imds = try await IMDSStandIn.start()
        defer { imds.stop() }
        imds.with { $0.lifetime = 10 }
        let refresher = try Self.refresher(port: imds.port)
        let updates = refresher.updates()
        let streamed = Task {
            var keys: Set<String> = []
            for await update in updates { keys.insert(update.accessKeyID) }
            return keys
        }
        #expect(refresher.failureReason == "instance credentials: not fetched yet")
        let running = Task { try await refresher.run() }
        defer { running.cancel() }
        #expect(try await Self.eventually { refresher.current != nil })
        var seen: Set<String> = []
        // Over twenty seconds every credential set (each lives 9–10 s, the stand-in's Expiration being whole
        // seconds) is replaced before it expires: `current` is never empty and never expired.
        let end = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < end {
            let current = refresher.current
            #expect(current != nil, "a gap with no valid credentials")
            if let current {
                #expect(current.expiration > Date())
                seen.insert(current.accessKeyID)
            }
            #expect(refresher.failureReason == nil)
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(seen.count >= 3, "\(seen.count) credential sets in 20 s")
        running.cancel()
        // The stream carries the refreshes and finishes when the refresher stops.
        #expect(await streamed.value.count >= 2)
    }

    @Test func reportsAFailingServiceAndRecovers() async throws {
        let imds = try await IMDSStandIn.start()
        defer { imds.stop() }
        imds.with { $0.answer = .status(503) }
        let refresher = try Self.refresher(port: imds.port)
        let running = Task { try await refresher.run() }
        defer { running.cancel() }
        #expect(try await Self.eventually { refresher.failureReason?.contains("unexpectedStatus") == true })
        #expect(refresher.current == nil)
        imds.with { $0.answer = .document() }
        #expect(try await Self.eventually { refresher.current != nil && refresher.failureReason == nil })
    }

    @Test func keepsRetryingWithBackoffWhileTheServiceIsDown() async throws {
        let refresher = try Self.refresher(port: try freePort())
        let running = Task { try await refresher.run() }
        defer { running.cancel() }
        // Waits of 50, 100, 200, 400, 400 ms: the fourth consecutive failure comes after at least 350 ms.
        let started = ContinuousClock.now
        #expect(try await Self.eventually { Self.consecutiveFailures(refresher.failureReason) >= 4 })
        #expect(ContinuousClock.now - started >= .milliseconds(350))
        let reason = try #require(refresher.failureReason)
        #expect(reason.hasPrefix("instance credentials: unreachable"), "\(reason)")
        #expect(refresher.current == nil)
    }

    /// N in a reason "… (N consecutive failures)", else 0.
    static func consecutiveFailures(_ reason: String?) -> Int {
        guard let reason, let end = reason.range(of: " consecutive failures)"), let start = reason[..<end.lowerBound].lastIndex(of: "(") else { return 0 }
        return Int(reason[reason.index(after: start)..<end.lowerBound]) ?? 0
    }

    @Test(arguments: [
        (21_600.0, Duration.seconds(17_280)),  // 80 % of six hours comes before five minutes ahead
        (1_200, .seconds(900)),  // five minutes ahead comes before 80 %
        (400, .seconds(200)),  // never before half the remaining life
        (3, .milliseconds(1_500)),
        (0.5, .seconds(1)),  // never sooner than the minimum interval
        (-5, .seconds(1)),
    ])
    func refreshDelay(remaining: Double, expected: Duration) {
        #expect(InstanceCredentialsRefresher.Configuration().refreshDelay(remaining: remaining) == expected)
    }
}
