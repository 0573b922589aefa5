import NIOCore
import Testing

@testable import HostRuntime

@Suite struct TokenBucketsTests {
    static let second: UInt64 = 1_000_000_000

    @Test func aBurstIsAllowedThenTheRateWithRetryAfter() {
        let buckets = TokenBuckets<String>(limit: RateLimit(perMinute: 60, burst: 3), maxKeys: 10)
        let t0: UInt64 = 5 * Self.second
        for _ in 0..<3 { #expect(buckets.take("a", now: t0) == .allowed) }
        #expect(buckets.take("a", now: t0) == .limited(retryAfterSeconds: 1))
        // One a second comes back; the whole burst after three.
        #expect(buckets.take("a", now: t0 + Self.second) == .allowed)
        #expect(buckets.take("a", now: t0 + Self.second) == .limited(retryAfterSeconds: 1))
        for _ in 0..<3 { #expect(buckets.take("a", now: t0 + 100 * Self.second) == .allowed) }
        #expect(buckets.take("a", now: t0 + 100 * Self.second) != .allowed)
    }

    @Test func retryAfterIsTheWaitForTheNextToken() {
        let buckets = TokenBuckets<String>(limit: RateLimit(perMinute: 2, burst: 1), maxKeys: 10)
        #expect(buckets.take("a", now: Self.second) == .allowed)
        #expect(buckets.take("a", now: Self.second) == .limited(retryAfterSeconds: 30))
        #expect(buckets.take("a", now: 16 * Self.second) == .limited(retryAfterSeconds: 15))
        #expect(buckets.take("a", now: 31 * Self.second) == .allowed)
    }

    @Test func oneKeysFloodLeavesAnotherAlone() {
        let buckets = TokenBuckets<String>(limit: RateLimit(perMinute: 1, burst: 2), maxKeys: 10)
        for _ in 0..<50 { _ = buckets.take("flood", now: Self.second) }
        #expect(buckets.take("flood", now: Self.second) != .allowed)
        #expect(buckets.take("quiet", now: Self.second) == .allowed)
        #expect(buckets.take("quiet", now: Self.second) == .allowed)
    }

    @Test func aTableFullOfRefillingBucketsRefusesNewKeysUntilOneFillsUp() {
        let buckets = TokenBuckets<Int>(limit: RateLimit(perMinute: 60, burst: 2), maxKeys: 100)
        let t0 = 10 * Self.second
        for key in 0..<100 { #expect(buckets.take(key, now: t0) == .allowed) }
        #expect(buckets.count == 100)
        // Hostile: key 100 and on, while every kept bucket is still refilling.
        #expect(buckets.take(100, now: t0) == .limited(retryAfterSeconds: 1))
        #expect(buckets.take(101, now: t0 + Self.second / 2) == .limited(retryAfterSeconds: 1))
        #expect(buckets.count == 100)
        // A second later every bucket is full again: they are forgotten and the new key gets a fresh one.
        #expect(buckets.take(102, now: t0 + 2 * Self.second) == .allowed)
        #expect(buckets.count == 1)
    }

    @Test func aTokenCountsAgainstItsHolderAndNoTokenAgainstTheAddress() throws {
        let limiter = AttestationLimiter(limit: RateLimit(perMinute: 1, burst: 2))
        let a = try SocketAddress(ipAddress: "192.0.2.1", port: 1000)
        let b = try SocketAddress(ipAddress: "192.0.2.2", port: 1000)
        let now: UInt64 = Self.second
        for _ in 0..<2 { #expect(limiter.admit(principal: nil, address: a, now: now) == .allowed) }
        #expect(limiter.admit(principal: nil, address: a, now: now) == .limited(retryAfterSeconds: 60))
        // Another port of the same address is the same caller; another address is not.
        #expect(limiter.admit(principal: nil, address: try SocketAddress(ipAddress: "192.0.2.1", port: 2000), now: now) != .allowed)
        #expect(limiter.admit(principal: nil, address: b, now: now) == .allowed)
        // A tenant's token is counted by tenant wherever it comes from, even from the limited address.
        let acme = Principal.tenant(id: 1, name: "acme")
        for _ in 0..<2 { #expect(limiter.admit(principal: acme, address: a, now: now) == .allowed) }
        #expect(limiter.admit(principal: acme, address: b, now: now) != .allowed)
        #expect(limiter.admit(principal: .tenant(id: 2, name: "other"), address: a, now: now) == .allowed)
    }

    @Test(arguments: [
        ("192.0.2.7", [192, 0, 2, 7]),
        ("::ffff:192.0.2.7", [192, 0, 2, 7]),
        ("2001:db8:1:2:aaaa::1", [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2]),
        ("2001:db8:1:2:bbbb::9", [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2]),
    ] as [(String, [UInt8])])
    func anAddressIsCountedByIPv4OrIPv6Slash64(address: String, key: [UInt8]) throws {
        #expect(AttestationLimiter.key(try SocketAddress(ipAddress: address, port: 443)) == key)
    }

    @Test func unknownPeersShareOneBucket() {
        #expect(AttestationLimiter.key(nil) == [])
    }
}
