import NIOCore
import NIOPosix

/// A stub resolver: asks recursive nameservers over UDP for a name's A and AAAA records and returns them with their
/// TTL, which `getaddrinfo` does not give.
///
/// Each attempt uses a fresh socket bound to a kernel-chosen port and a fresh random 16-bit id, and accepts only a
/// response from the nameserver's address and port that passes `DNSMessage.parseResponse`. Other datagrams are
/// dropped while the attempt waits. There is no TCP fallback: a truncated (TC) response fails the attempt. Names
/// are looked up as written; no search list or `ndots` applies.
public struct DNSResolver: HostResolver {
    /// The TTL of an answer for an IP literal: the largest a TTL can be, since it never changes.
    public static let literalTTL: UInt32 = DNSMessage.maxTTL
    /// The TTL of an answer from the hosts file, which has no TTL of its own: how soon an edit to the file could
    /// matter to a caller that rebuilds its resolver.
    public static let hostsFileTTL: UInt32 = 60
    /// How long one attempt waits for a response, unless told otherwise.
    public static let defaultTimeout: TimeAmount = .seconds(2)
    /// How many times each nameserver is asked, unless told otherwise.
    public static let defaultAttempts = 2
    /// The port nameservers listen on.
    public static let port = 53

    /// The nameservers, asked in order.
    public let nameservers: [SocketAddress]
    /// How long one attempt waits for its response.
    public let timeout: TimeAmount
    /// How many rounds over `nameservers` a query makes before it fails.
    public let attempts: Int
    /// Names answered without a query.
    public let hostsFile: HostsFile
    private let eventLoopGroup: any EventLoopGroup

    /// Makes a resolver that asks `nameservers` in order, `attempts` rounds (at least 1), waiting `timeout` (at
    /// least 1 ms) for each response. A name in `hostsFile` is answered from it; by default no name is.
    ///
    /// Resolution takes at most `attempts × nameservers.count × timeout`, plus the time to open the sockets.
    public init(
        nameservers: [SocketAddress],
        timeout: TimeAmount = DNSResolver.defaultTimeout,
        attempts: Int = DNSResolver.defaultAttempts,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        hostsFile: HostsFile = HostsFile()
    ) {
        self.nameservers = nameservers
        self.timeout = max(timeout, .milliseconds(1))
        self.attempts = max(attempts, 1)
        self.eventLoopGroup = eventLoopGroup
        self.hostsFile = hostsFile
    }

    /// The addresses of `host`: the address itself for an IPv4 or IPv6 literal (TTL `literalTTL`), the hosts
    /// file's addresses when it lists the name (TTL `hostsFileTTL`), otherwise the A and AAAA records the
    /// nameservers give, IPv4 first.
    ///
    /// The A and AAAA queries run at once. When either gives addresses, the answer holds them and its TTL is the
    /// smallest among the families that gave addresses; a failure or a NODATA of the other family does not spoil
    /// it. When neither gives addresses, the answer is empty, with `rcode` `.nameError` if both said NXDOMAIN, and
    /// the smaller of the two negative TTLs. When neither answered, the A query's error is thrown.
    ///
    /// Throws a `DNSError` (the name's, or the last attempt's), or `CancellationError` when the task is cancelled.
    public func resolve(_ host: String) async throws -> DNSAnswer {
        if let address = DNSAddress(literal: host) {
            return DNSAnswer(addresses: [address], ttl: Self.literalTTL)
        }
        let listed = hostsFile.addresses(for: host)
        if !listed.isEmpty {
            return DNSAnswer(addresses: listed, ttl: Self.hostsFileTTL)
        }
        _ = try DNSName(validating: host)
        async let v4 = outcome { try await query(host, type: .a) }
        async let v6 = outcome { try await query(host, type: .aaaa) }
        return try Self.combine(await v4, await v6)
    }

    /// Asks the nameservers for one record type of `name`, each in turn, for `attempts` rounds, and returns the
    /// first answer (with or without addresses). Throws the last attempt's `DNSError` when none answered.
    public func query(_ name: String, type: DNSRecordType) async throws -> DNSAnswer {
        _ = try DNSName(validating: name)
        guard !nameservers.isEmpty else { throw DNSError(.noNameservers, "the resolver has no nameserver to ask") }
        var lastError = DNSError(.timeout, "no attempt was made")
        for _ in 0..<attempts {
            for server in nameservers {
                try Task.checkCancellation()
                do {
                    return try await exchange(name, type: type, server: server)
                } catch let error as DNSError {
                    lastError = error
                }
            }
        }
        throw lastError
    }

    /// One query to one server on a fresh socket.
    private func exchange(_ name: String, type: DNSRecordType, server: SocketAddress) async throws -> DNSAnswer {
        var generator = SystemRandomNumberGenerator()
        let id = UInt16.random(in: .min ... .max, using: &generator)
        let query = try DNSMessage.query(id: id, name: name, type: type)
        let loop = eventLoopGroup.next()
        let promise = loop.makePromise(of: DNSAnswer.self)
        let timeout = self.timeout
        let channel: any Channel
        do {
            let local = try SocketAddress(ipAddress: server.protocol == .inet6 ? "::" : "0.0.0.0", port: 0)
            channel = try await DatagramBootstrap(group: loop)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let handler = DNSResponseHandler(
                            server: server,
                            id: id,
                            name: name,
                            type: type,
                            timeout: timeout,
                            promise: promise
                        )
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                }
                .bind(to: local)
                .get()
        } catch {
            let failure = DNSError(
                .networkError,
                "could not open a UDP socket for \(server): \(error)",
                underlying: error
            )
            promise.fail(failure)
            throw failure
        }
        let datagram = AddressedEnvelope(remoteAddress: server, data: channel.allocator.buffer(bytes: query))
        channel.writeAndFlush(datagram).whenFailure { error in
            promise.fail(DNSError(.networkError, "could not send to \(server): \(error)", underlying: error))
        }
        let result: Result<DNSAnswer, any Error>
        do {
            let answer = try await withTaskCancellationHandler {
                try await promise.futureResult.get()
            } onCancel: {
                promise.fail(CancellationError())
            }
            result = .success(answer)
        } catch {
            result = .failure(error)
        }
        try? await channel.close().get()
        return try result.get()
    }

    private func outcome(_ body: () async throws -> DNSAnswer) async -> Result<DNSAnswer, any Error> {
        do {
            return .success(try await body())
        } catch {
            return .failure(error)
        }
    }

    static func combine(_ v4: Result<DNSAnswer, any Error>, _ v6: Result<DNSAnswer, any Error>) throws -> DNSAnswer {
        let answers = [try? v4.get(), try? v6.get()].compactMap { $0 }
        let withAddresses = answers.filter { !$0.addresses.isEmpty }
        if !withAddresses.isEmpty {
            return DNSAnswer(
                addresses: withAddresses.flatMap(\.addresses),
                ttl: withAddresses.map(\.ttl).min() ?? 0,
                rcode: .noError
            )
        }
        let a = try v4.get()
        let aaaa = try v6.get()
        let rcode: DNSResponseCode = a.rcode == .nameError && aaaa.rcode == .nameError ? .nameError : .noError
        return DNSAnswer(addresses: [], ttl: min(a.ttl, aaaa.ttl), rcode: rcode)
    }
}
