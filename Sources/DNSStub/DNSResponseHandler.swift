import NIOCore

/// Waits on a UDP channel for the response to one query and completes `promise` with it, or with an error when the
/// server gives a verdict (an RCODE, TC) or the timeout passes.
///
/// Datagrams from another address or port, and datagrams that are not a well-formed response to this exact query
/// (wrong id, wrong question, malformed), are dropped and waiting goes on: a forged or stray packet must not end
/// the exchange, or anyone who can send a UDP packet could make resolution fail.
final class DNSResponseHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let server: SocketAddress
    private let id: UInt16
    private let name: String
    private let type: DNSRecordType
    private let timeout: TimeAmount
    private let promise: EventLoopPromise<DNSAnswer>
    private var timeoutTask: Scheduled<Void>?
    private var ignoredCount = 0
    private var lastIgnored: DNSError?
    private var done = false

    init(
        server: SocketAddress,
        id: UInt16,
        name: String,
        type: DNSRecordType,
        timeout: TimeAmount,
        promise: EventLoopPromise<DNSAnswer>
    ) {
        self.server = server
        self.id = id
        self.name = name
        self.type = type
        self.timeout = timeout
        self.promise = promise
    }

    func handlerAdded(context: ChannelHandlerContext) {
        timeoutTask = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            var message = "no response from \(server) within \(timeout.nanoseconds / 1_000_000) ms"
            if let lastIgnored {
                message += "; ignored \(ignoredCount) datagrams, the last because \(lastIgnored)"
            }
            finish(.failure(DNSError(.timeout, message, underlying: lastIgnored)))
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish(.failure(DNSError(.networkError, "the socket closed before a response came")))
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure(DNSError(.networkError, "the socket closed before a response came")))
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard Self.sameEndpoint(envelope.remoteAddress, server) else {
            ignore(DNSError(.unexpectedSource, "a datagram came from \(envelope.remoteAddress), not \(server)"))
            return
        }
        let bytes = Array(envelope.data.readableBytesView)
        do {
            finish(.success(try DNSMessage.parseResponse(bytes, expectedID: id, name: name, type: type)))
        } catch {
            if Self.isVerdict(error.code) {
                finish(.failure(error))
            } else {
                ignore(error)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // An unconnected UDP socket stays usable after an error (an ICMP report, a failed read); the timeout
        // still bounds the wait.
        ignore(DNSError(.networkError, "the socket reported \(error)", underlying: error))
    }

    private func ignore(_ error: DNSError) {
        ignoredCount += 1
        lastIgnored = error
    }

    private func finish(_ result: Result<DNSAnswer, DNSError>) {
        guard !done else { return }
        done = true
        timeoutTask?.cancel()
        timeoutTask = nil
        promise.completeWith(result.mapError { $0 as any Error })
    }

    /// Errors that can only come from a response that matched our id, source and (when present) question: the
    /// server's answer to this query, so waiting longer will not change it.
    private static func isVerdict(_ code: DNSError.Code) -> Bool {
        switch code {
        case .truncated, .formatError, .serverFailure, .notImplemented, .refused, .unexpectedResponseCode,
            .cnameChainTooLong, .conflictingCNAME:
            true
        default:
            false
        }
    }

    private static func sameEndpoint(_ lhs: SocketAddress, _ rhs: SocketAddress) -> Bool {
        lhs.protocol == rhs.protocol && lhs.port == rhs.port && lhs.ipAddress == rhs.ipAddress
    }
}
