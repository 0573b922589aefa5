import Testing

@testable import DNSStub

@Suite struct ResolutionCacheTests {
    let resolver = TableResolver()
    let clock = ManualClock()

    func makeCache(minTTL: Duration = .seconds(5), maxTTL: Duration = .seconds(3600)) -> ResolutionCache {
        ResolutionCache(resolver: resolver, now: clock.function, minTTL: minTTL, maxTTL: maxTTL)
    }

    @Test func reusesAnAnswerUntilItsTTLEndsThenResolvesAgain() async throws {
        let cache = makeCache()
        resolver.set("api.internal", addresses: [.v4([10, 0, 0, 1])], ttl: 30)
        #expect(try await cache.addresses(for: "api.internal") == [.v4([10, 0, 0, 1])])
        resolver.set("api.internal", addresses: [.v4([10, 0, 0, 2])], ttl: 30)
        clock.set(29_999)
        #expect(try await cache.addresses(for: "api.internal") == [.v4([10, 0, 0, 1])])
        #expect(try await cache.addresses(for: "API.internal.") == [.v4([10, 0, 0, 1])])
        #expect(resolver.calls("api.internal") == 1)
        clock.set(30_000)
        #expect(try await cache.addresses(for: "api.internal") == [.v4([10, 0, 0, 2])])
        #expect(resolver.calls("api.internal") == 2)
        // The new answer's TTL counts from when it arrived.
        clock.set(59_999)
        #expect(try await cache.addresses(for: "api.internal") == [.v4([10, 0, 0, 2])])
        #expect(resolver.calls("api.internal") == 2)
    }

    @Test func clampsTheTTLToTheConfiguredBounds() async throws {
        let cache = makeCache(minTTL: .seconds(5), maxTTL: .seconds(60))
        resolver.set("zero.internal", addresses: [.v4([10, 0, 0, 1])], ttl: 0)
        resolver.set("long.internal", addresses: [.v4([10, 0, 0, 2])], ttl: 86_400)
        _ = try await cache.addresses(for: "zero.internal")
        _ = try await cache.addresses(for: "long.internal")
        clock.set(4_999)
        _ = try await cache.addresses(for: "zero.internal")
        #expect(resolver.calls("zero.internal") == 1)
        clock.set(5_000)
        _ = try await cache.addresses(for: "zero.internal")
        #expect(resolver.calls("zero.internal") == 2)
        clock.set(59_999)
        _ = try await cache.addresses(for: "long.internal")
        #expect(resolver.calls("long.internal") == 1)
        clock.set(60_000)
        _ = try await cache.addresses(for: "long.internal")
        #expect(resolver.calls("long.internal") == 2)
    }

    @Test func concurrentCallersShareOneResolution() async throws {
        // TTL 0 and no minimum: any caller that came after the resolution ended would start another, so one call
        // in total means every caller waited on the same one.
        let cache = makeCache(minTTL: .zero)
        resolver.set("shared.internal", addresses: [.v4([10, 0, 0, 9])], ttl: 0)
        resolver.closeGate()
        let results = try await withThrowingTaskGroup(of: [DNSAddress].self) { group in
            for _ in 0..<20 {
                group.addTask { try await cache.addresses(for: "shared.internal") }
            }
            try await Task.sleep(for: .milliseconds(300))
            resolver.openGate()
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 20)
        #expect(results.allSatisfy { $0 == [.v4([10, 0, 0, 9])] })
        #expect(resolver.calls("shared.internal") == 1)
        // Once it ended, the expired answer is not reused.
        _ = try await cache.addresses(for: "shared.internal")
        #expect(resolver.calls("shared.internal") == 2)
    }

    @Test func remembersAFailureForTheMinimumTTLOnly() async throws {
        let cache = makeCache(minTTL: .seconds(5))
        resolver.set("down.internal", .failure(DNSError(.timeout, "no answer")))
        await #expect(throws: DNSError(.timeout, "")) { try await cache.addresses(for: "down.internal") }
        clock.set(4_999)
        await #expect(throws: DNSError(.timeout, "")) { try await cache.addresses(for: "down.internal") }
        #expect(resolver.calls("down.internal") == 1)
        resolver.set("down.internal", addresses: [.v4([10, 0, 0, 3])], ttl: 600)
        clock.set(5_000)
        #expect(try await cache.addresses(for: "down.internal") == [.v4([10, 0, 0, 3])])
        #expect(resolver.calls("down.internal") == 2)
    }

    @Test func answersWithoutAddressesAreFailures() async throws {
        let cache = makeCache(minTTL: .seconds(2))
        resolver.set("gone.internal", .success(DNSAnswer(addresses: [], ttl: 3600, rcode: .nameError)))
        resolver.set("v6only.internal", .success(DNSAnswer(addresses: [], ttl: 3600, rcode: .noError)))
        await #expect(throws: DNSError(.nameError, "")) { try await cache.addresses(for: "gone.internal") }
        await #expect(throws: DNSError(.noAddresses, "")) { try await cache.addresses(for: "v6only.internal") }
        // The negative TTL of an hour is not honoured past the minimum: the name is asked again after 2 s.
        resolver.set("gone.internal", addresses: [.v4([10, 0, 0, 4])], ttl: 60)
        clock.set(1_999)
        await #expect(throws: DNSError(.nameError, "")) { try await cache.addresses(for: "gone.internal") }
        clock.set(2_000)
        #expect(try await cache.addresses(for: "gone.internal") == [.v4([10, 0, 0, 4])])
        #expect(resolver.calls("gone.internal") == 2)
    }

    @Test func aMaximumBelowTheMinimumIsRaisedToIt() async throws {
        let cache = makeCache(minTTL: .seconds(10), maxTTL: .seconds(1))
        resolver.set("odd.internal", addresses: [.v4([10, 0, 0, 5])], ttl: 3600)
        _ = try await cache.addresses(for: "odd.internal")
        clock.set(9_999)
        _ = try await cache.addresses(for: "odd.internal")
        #expect(resolver.calls("odd.internal") == 1)
        clock.set(10_000)
        _ = try await cache.addresses(for: "odd.internal")
        #expect(resolver.calls("odd.internal") == 2)
    }

    @Test func theDefaultClockMovesForward() async throws {
        let first = ResolutionCache.monotonicMilliseconds()
        try await Task.sleep(for: .milliseconds(20))
        #expect(ResolutionCache.monotonicMilliseconds() >= first + 15)
    }
}
