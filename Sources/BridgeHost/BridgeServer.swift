import EnclaveWire
import Logging
import NIOCore
import NIOPosix
import Synchronization
import VsockBridge

/// What happens on the enclave's control channel, as the host's supervisor sees it.
public enum ControlEvent: Sendable, Hashable {
    /// An enclave said hello on a new control connection (`session` numbers connections on this host).
    case hello(session: UInt64, attestation: [UInt8]?)
    case heartbeat(session: UInt64, sequence: UInt64, time: UInt64)
    case status(session: UInt64, EnclaveStatus)
    case closed(session: UInt64)
}

/// The host's bridge listener. Every connection the enclave dials arrives here, is sent a fresh challenge, answers
/// with a hello that names its channel kind and proves an attested boot (`BridgeAuthenticator`), and goes where
/// that kind belongs: control and log to the supervisor, ingress to the pool, egress to the allowlisted connector,
/// queue, store and credentials to their services. A connection that cannot prove itself reaches none of them. The
/// host never dials the enclave.
public final class BridgeServer: Sendable {
    /// Bridge settings.
    public struct Configuration: Sendable {
        public var address: BridgeAddress
        public var maxFrameSize = WireFrame.defaultMaxFrameSize
        /// How long a new connection has to say hello.
        public var helloTimeout = TimeAmount.seconds(10)
        public var egress: EgressConnector.Configuration
        /// What every connection must prove before it is served.
        public var authenticator: BridgeAuthenticator
        /// Framed services for the `queue`, `store` and `credentials` channels: each makes the handler that serves
        /// one connection of its kind (it receives `WireMessage`s), given who proved the connection. A kind without
        /// one is refused with `unsupportedChannel`.
        public var services: [ChannelKind: @Sendable (BridgeAuthenticator.Peer) -> any ChannelHandler] = [:]

        public init(address: BridgeAddress, egress: EgressConnector.Configuration, authenticator: BridgeAuthenticator) {
            self.address = address
            self.egress = egress
            self.authenticator = authenticator
        }
    }

    public let configuration: Configuration
    public let pool: IngressPool
    private let group: EventLoopGroup
    private let logger: Logger
    private let onControl: @Sendable (ControlEvent) -> Void
    private let onLog: @Sendable (LogRecord) -> Void
    private let egress: EgressConnector
    private let listener = Mutex<Channel?>(nil)
    /// Log connections still open: the enclave's last lines may be in flight after it exits.
    private let openLogs = Mutex(0)
    private let sessions = Mutex<UInt64>(0)

    public init(
        configuration: Configuration, group: EventLoopGroup, pool: IngressPool, logger: Logger,
        onControl: @escaping @Sendable (ControlEvent) -> Void, onLog: @escaping @Sendable (LogRecord) -> Void
    ) {
        self.configuration = configuration
        self.group = group
        self.pool = pool
        self.logger = logger
        self.onControl = onControl
        self.onLog = onLog
        self.egress = EgressConnector(configuration: configuration.egress, group: group, logger: logger)
    }

    /// Binds the listener; returns the bound port (useful when the configured port is 0).
    @discardableResult
    public func start() async throws -> Int? {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture { try self.accept(channel) }
            }
        let channel = try await configuration.address.bind(bootstrap).get()
        listener.withLock { $0 = channel }
        return channel.localAddress?.port
    }

    /// Stops accepting and closes the pool.
    /// Waits, at most `limit`, until every log connection has ended: called once the enclave has stopped, so that
    /// the lines it wrote last (its shutdown) are read before the host goes.
    public func drainLogs(within limit: Duration) async {
        let deadline = ContinuousClock.now + limit
        while openLogs.withLock({ $0 }) > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    public func stop() async {
        let channel = listener.withLock { c -> Channel? in
            defer { c = nil }
            return c
        }
        try? await channel?.close()
        pool.close()
    }

    private func accept(_ channel: Channel) throws {
        final class Hello {
            var kind: ChannelKind = .control
            var attestation: [UInt8]?
            var peer: BridgeAuthenticator.Peer?
        }
        let hello = Hello()
        let challenge = BridgeAuthenticator.challenge()
        let authenticator = configuration.authenticator
        let reader = FrameReader(
            maxFrameSize: configuration.maxFrameSize, deadline: configuration.helloTimeout, logger: logger,
            onMessage: { [logger] message, context in
                guard case .hello(_, let kind, let attestation, let proof) = message else {
                    logger.warning("bridge connection sent \(message.name) before hello; closing")
                    context.close(promise: nil)
                    return .keepReading
                }
                if kind != .control && attestation != nil {
                    logger.warning("bridge connection sent an attestation on \(kind.rawValue); closing")
                    context.close(promise: nil)
                    return .keepReading
                }
                switch authenticator.check(kind: kind, challenge: challenge, proof: proof, bootDocument: attestation) {
                case .success(let peer):
                    hello.peer = peer
                case .failure(let refusal):
                    return .refuse(code: refusal.rawValue, reason: "the \(kind.rawValue) connection does not prove an attested enclave boot")
                }
                hello.kind = kind
                hello.attestation = attestation
                return .detach
            },
            onDetach: { [self] channel, rest in
                guard let peer = hello.peer else { return channel.close(promise: nil) }
                self.route(channel, kind: hello.kind, attestation: hello.attestation, peer: peer, rest: rest)
            })
        try channel.pipeline.syncOperations.addHandler(reader)
        // The host speaks first: the challenge the hello must sign.
        var first = channel.allocator.buffer(capacity: 48)
        WireFrame.write(.challenge(challenge), to: &first)
        channel.writeAndFlush(first, promise: nil)
    }

    /// Called on the channel's loop right after its hello was proven.
    private func route(_ channel: Channel, kind: ChannelKind, attestation: [UInt8]?, peer: BridgeAuthenticator.Peer, rest: ByteBuffer) {
        switch kind {
        case .control:
            let session = sessions.withLock { s -> UInt64 in
                s += 1
                return s
            }
            framed(channel, rest: rest, handler: ControlConnectionHandler(session: session, logger: logger, onEvent: onControl))
            onControl(.hello(session: session, attestation: attestation))
        case .log:
            openLogs.withLock { $0 += 1 }
            channel.closeFuture.whenComplete { [self] _ in openLogs.withLock { $0 -= 1 } }
            framed(channel, rest: rest, handler: LogConnectionHandler(logger: logger, onLog: onLog))
        case .ingress:
            guard rest.readableBytes == 0 else {
                refuse(channel, code: "protocol", reason: "bytes after an ingress hello")
                return
            }
            try? channel.pipeline.syncOperations.addHandler(IdleTunnelGuard(logger: logger))
            pool.add(channel)
        case .egress:
            egress.handle(channel, rest: rest)
        case .queue, .store, .credentials:
            guard let make = configuration.services[kind] else {
                refuse(channel, code: "unsupportedChannel", reason: "this host serves no \(kind.rawValue) channel")
                return
            }
            framed(channel, rest: rest, handler: make(peer))
        }
    }

    private func framed(_ channel: Channel, rest: ByteBuffer, handler: any ChannelHandler) {
        do {
            let ops = channel.pipeline.syncOperations
            try ops.addHandler(ByteToMessageHandler(WireMessageDecoder(maxFrameSize: configuration.maxFrameSize)))
            try ops.addHandler(MessageToByteHandler(WireMessageEncoder()))
            try ops.addHandler(handler)
            if rest.readableBytes > 0 { channel.pipeline.fireChannelRead(rest) }
        } catch {
            channel.close(promise: nil)
        }
    }

    private func refuse(_ channel: Channel, code: String, reason: String) {
        logger.warning("closing bridge connection", metadata: ["code": "\(code)", "reason": "\(reason)"])
        channel.writeFrame(.close(code: code, reason: reason)).whenComplete { _ in channel.close(promise: nil) }
    }
}
