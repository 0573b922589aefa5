import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import DNSStub

@Suite struct DNSResolverTests {
    let group = MultiThreadedEventLoopGroup.singleton

    func withServer(
        _ behavior: TestDNSServer.Behavior,
        _ body: (TestDNSServer) async throws -> Void
    ) async throws {
        let server = try await TestDNSServer.start(behavior, group: group)
        do {
            try await body(server)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    func resolver(
        _ servers: [TestDNSServer],
        timeout: TimeAmount = .seconds(10),
        attempts: Int = 1
    ) -> DNSResolver {
        DNSResolver(nameservers: servers.map(\.address), timeout: timeout, attempts: attempts, eventLoopGroup: group)
    }

    static let v6One = DNSAddress.v6([0xFD] + [UInt8](repeating: 0, count: 14) + [1])

    @Test func resolvesAAndAAAAOverUDP() async throws {
        try await withServer(.answer) { server in
            let answer = try await resolver([server]).resolve("service.test")
            #expect(answer.addresses == [.v4([10, 0, 0, 1]), Self.v6One])
            #expect(answer.ttl == 1)
            #expect(answer.rcode == .noError)
            #expect(server.counter.total == 2)
            let again = try await resolver([server]).query("service.test", type: .a)
            #expect(again.addresses == [.v4([10, 0, 0, 2])])
        }
    }

    @Test func theCacheReusesBeforeTheTTLAndResolvesAgainAfter() async throws {
        try await withServer(.answer) { server in
            let clock = ManualClock()
            let cache = ResolutionCache(resolver: resolver([server]), now: clock.function, minTTL: .zero)
            #expect(try await cache.addresses(for: "service.test") == [.v4([10, 0, 0, 1]), Self.v6One])
            #expect(server.counter.total == 2)
            clock.set(999)
            #expect(try await cache.addresses(for: "service.test") == [.v4([10, 0, 0, 1]), Self.v6One])
            #expect(server.counter.total == 2)
            clock.set(1_000)
            let renewed = try await cache.addresses(for: "service.test")
            #expect(renewed.first == .v4([10, 0, 0, 2]))
            #expect(renewed.count == 2)
            #expect(server.counter.total == 4)
        }
    }

    @Test func aSilentServerTimesOutWithinTheBound() async throws {
        try await withServer(.silent) { server in
            let start = ContinuousClock.now
            await #expect(throws: DNSError(.timeout, "")) {
                try await resolver([server], timeout: .milliseconds(200), attempts: 2).resolve("service.test")
            }
            let elapsed = ContinuousClock.now - start
            // Two attempts of 200 ms each, the A and AAAA queries side by side. The upper bound only says that
            // it ends: this machine is shared, so it is generous.
            #expect(elapsed >= .milliseconds(380))
            #expect(elapsed < .seconds(60))
            #expect(server.counter.total == 4)
        }
    }

    @Test func aReplyWithTheWrongIDIsIgnoredAndTheRightOneAccepted() async throws {
        try await withServer(.wrongIDFirst) { server in
            let answer = try await resolver([server]).resolve("service.test")
            #expect(answer.addresses == [.v4([10, 0, 0, 1]), Self.v6One])
            #expect(!answer.addresses.contains(TestDNSServer.forged))
        }
    }

    @Test func aReplyFromAnotherPortIsIgnoredAndTheRightOneAccepted() async throws {
        try await withServer(.otherSourceFirst) { server in
            let answer = try await resolver([server]).resolve("service.test")
            #expect(answer.addresses == [.v4([10, 0, 0, 1]), Self.v6One])
        }
    }

    @Test func movesOnToTheNextNameserver() async throws {
        try await withServer(.silent) { silent in
            try await withServer(.serverFailure) { failing in
                try await withServer(.answer) { good in
                    // The timeout is per server, the good one's too: long enough for a loaded machine to answer.
                    let answer = try await resolver([silent, failing, good], timeout: .seconds(3))
                        .query("service.test", type: .a)
                    #expect(answer.addresses == [.v4([10, 0, 0, 1])])
                    #expect(silent.counter.total == 1 && failing.counter.total == 1 && good.counter.total == 1)
                }
            }
        }
    }

    @Test func reportsTheServersVerdictWhenNoneAnswers() async throws {
        try await withServer(.serverFailure) { server in
            await #expect(throws: DNSError(.serverFailure, "")) {
                try await resolver([server], attempts: 2).query("service.test", type: .aaaa)
            }
            #expect(server.counter.total == 2)
        }
    }

    @Test func literalsAndHostsFileNamesNeedNoQuery() async throws {
        let hosts = HostsFile(parsing: "10.1.2.3 db.internal db\n2001:db8::7 db.internal\n")
        let resolver = DNSResolver(nameservers: [], eventLoopGroup: group, hostsFile: hosts)
        #expect(
            try await resolver.resolve("192.0.2.1")
                == DNSAnswer(addresses: [.v4([192, 0, 2, 1])], ttl: DNSResolver.literalTTL)
        )
        #expect(try await resolver.resolve("::1").addresses == [DNSAddress(literal: "::1")!])
        let listed = try await resolver.resolve("DB.internal.")
        #expect(listed.addresses == [.v4([10, 1, 2, 3]), DNSAddress(literal: "2001:db8::7")!])
        #expect(listed.ttl == DNSResolver.hostsFileTTL)
        // Anything else would need a nameserver, and there is none.
        await #expect(throws: DNSError(.noNameservers, "")) { try await resolver.resolve("other.internal") }
        await #expect(throws: DNSError(.invalidCharacter, "")) { try await resolver.resolve("bad name") }
    }

    @Test func readsTheSystemConfigurationFiles() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dnsstub-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let resolvConf = directory.appendingPathComponent("resolv.conf")
        let hosts = directory.appendingPathComponent("hosts")
        try "nameserver 10.0.0.2\nnameserver ::1\n".write(to: resolvConf, atomically: true, encoding: .utf8)
        try "10.9.8.7 configured.internal\n".write(to: hosts, atomically: true, encoding: .utf8)
        let resolver = try await DNSResolver.system(resolvConfPath: resolvConf.path, hostsPath: hosts.path)
        #expect(resolver.nameservers.map(\.ipAddress) == ["10.0.0.2", "::1"])
        #expect(resolver.nameservers.allSatisfy { $0.port == 53 })
        #expect(try await resolver.resolve("configured.internal").addresses == [.v4([10, 9, 8, 7])])
        let missing = try await DNSResolver.system(
            resolvConfPath: directory.appendingPathComponent("absent").path,
            hostsPath: directory.appendingPathComponent("absent").path
        )
        #expect(missing.nameservers.map(\.ipAddress) == ["127.0.0.1"])
        #expect(missing.hostsFile.isEmpty)
    }

    @Test func combinesTheTwoFamilies() throws {
        let v4 = DNSAnswer(addresses: [.v4([1, 1, 1, 1])], ttl: 300)
        let noV6 = DNSAnswer(addresses: [], ttl: 0)
        let v6 = DNSAnswer(addresses: [Self.v6One], ttl: 100)
        let gone = DNSAnswer(addresses: [], ttl: 30, rcode: .nameError)
        let timeout = DNSError(.timeout, "")
        #expect(
            try DNSResolver.combine(.success(v4), .success(v6))
                == DNSAnswer(addresses: v4.addresses + v6.addresses, ttl: 100)
        )
        // A family without addresses does not shorten the other's TTL, nor does its failure spoil the answer.
        #expect(try DNSResolver.combine(.success(v4), .success(noV6)) == v4)
        #expect(try DNSResolver.combine(.failure(timeout), .success(v6)) == v6)
        #expect(try DNSResolver.combine(.success(gone), .success(gone)) == gone)
        #expect(try DNSResolver.combine(.success(gone), .success(noV6)) == DNSAnswer(addresses: [], ttl: 0))
        #expect(throws: DNSError(.timeout, "")) { try DNSResolver.combine(.failure(timeout), .success(noV6)) }
        #expect(throws: DNSError(.refused, "")) {
            try DNSResolver.combine(.success(gone), .failure(DNSError(.refused, "")))
        }
    }
}
