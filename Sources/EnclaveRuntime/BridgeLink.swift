import EnclaveWire
import Logging
import NIOCore
import NIOPosix
import Synchronization
import VsockBridge

/// One long-lived framed connection the enclave keeps to the host's bridge (control, log, queue, store,
/// credentials): dialed, the host's challenge answered with a `hello` that proves this boot (`ChannelProof`), and
/// dialed again with backoff whenever it drops, until stopped. The connection is the owner's (`channel`,
/// `onConnect`) only once its hello is written.
final class BridgeLink: Sendable {
    private struct State {
        var channel: Channel?
        var stopped = false
        var attempt = 0
    }

    let bridge: BridgeAddress
    let kind: ChannelKind
    private let attestation: [UInt8]?
    private let prover: ChannelProver
    private let maxFrameSize: Int
    private let group: EventLoopGroup
    private let logger: Logger
    private let onConnect: @Sendable (Channel) -> Void
    private let onMessage: @Sendable (WireMessage, Channel) -> Void
    private let state = Mutex(State())

    /// `attestation` goes in the hello (the boot document, on control).
    init(
        bridge: BridgeAddress, kind: ChannelKind, attestation: [UInt8]? = nil, prover: ChannelProver, maxFrameSize: Int, group: EventLoopGroup,
        logger: Logger, onConnect: @escaping @Sendable (Channel) -> Void, onMessage: @escaping @Sendable (WireMessage, Channel) -> Void
    ) {
        self.bridge = bridge
        self.kind = kind
        self.attestation = attestation
        self.prover = prover
        self.maxFrameSize = maxFrameSize
        self.group = group
        self.logger = logger
        self.onConnect = onConnect
        self.onMessage = onMessage
    }

    /// The connection, while there is one.
    var channel: Channel? { state.withLock { $0.channel } }

    func start() { dial() }

    func stop() {
        let channel = state.withLock { s -> Channel? in
            s.stopped = true
            return s.channel
        }
        channel?.close(promise: nil)
    }

    /// Stops, and returns once what was written before is on its way and the connection is closed (at most `limit`):
    /// a process about to exit calls this so that its last messages are not lost with its event loops.
    func stopAndWait(within limit: Duration) async {
        let channel = state.withLock { s -> Channel? in
            s.stopped = true
            return s.channel
        }
        guard let channel else { return }
        await withTaskGroup(of: Void.self) { g in
            g.addTask { try? await channel.close() }
            g.addTask { try? await Task.sleep(for: limit) }
            await g.next()
            g.cancelAll()
        }
    }

    private func dial() {
        guard !state.withLock({ $0.stopped }) else { return }
        let bootstrap = ClientBootstrap(group: group)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(5))
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let ops = channel.pipeline.syncOperations
                    try ops.addHandler(ByteToMessageHandler(WireMessageDecoder(maxFrameSize: maxFrameSize)))
                    try ops.addHandler(MessageToByteHandler(WireMessageEncoder()))
                    try ops.addHandler(LinkHandler(onChallenge: { [self] in self.greet($0, challenge: $1) }, onMessage: onMessage, logger: logger))
                }
            }
        bridge.connect(bootstrap).whenComplete { [self] result in
            switch result {
            case .success(let channel):
                guard !state.withLock({ $0.stopped }) else { return channel.close(promise: nil) }
                channel.closeFuture.whenComplete { [self] _ in
                    state.withLock { if $0.channel === channel { $0.channel = nil } }
                    retry()
                }
            case .failure(let error):
                let attempt = state.withLock { s -> Int in
                    s.attempt += 1
                    return s.attempt
                }
                if attempt == 1 || attempt % 20 == 0 {
                    logger.notice("cannot reach the bridge", metadata: ["bridge": "\(bridge)", "error": "\(error)"])
                }
                retry()
            }
        }
    }

    /// Answers the host's challenge (on the channel's loop): the hello with this boot's proof; from then on the
    /// connection is the owner's.
    private func greet(_ channel: Channel, challenge: [UInt8]) {
        let hello: WireMessage
        do { hello = try prover.hello(kind, challenge: challenge, attestation: attestation) } catch {
            logger.error("bridge link: cannot prove this boot to the host: \(error); closing", metadata: ["channel": "\(kind.rawValue)"])
            channel.close(promise: nil)
            return
        }
        let keep = state.withLock { s -> Bool in
            guard !s.stopped else { return false }
            s.channel = channel
            s.attempt = 0
            return true
        }
        guard keep else { return channel.close(promise: nil) }
        channel.writeAndFlush(hello, promise: nil)
        onConnect(channel)
    }

    private func retry() {
        let attempt = state.withLock { $0.attempt }
        let delay = min(2000, 50 << min(attempt, 6))
        group.next().scheduleTask(in: .milliseconds(Int64(delay))) { self.dial() }
    }
}

/// Takes the host's challenge (the first message, and only then), then passes each message of a link to its
/// owner; protocol errors close the connection (the link redials).
private final class LinkHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = WireMessage

    let onChallenge: @Sendable (Channel, [UInt8]) -> Void
    let onMessage: @Sendable (WireMessage, Channel) -> Void
    let logger: Logger
    /// Touched on the channel's loop only.
    private var greeted = false

    init(onChallenge: @escaping @Sendable (Channel, [UInt8]) -> Void, onMessage: @escaping @Sendable (WireMessage, Channel) -> Void, logger: Logger) {
        self.onChallenge = onChallenge
        self.onMessage = onMessage
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = unwrapInboundIn(data)
        if greeted { return onMessage(message, context.channel) }
        switch message {
        case .challenge(let nonce):
            greeted = true
            onChallenge(context.channel, nonce)
        case .close(let code, let reason):
            logger.notice("the host closed a bridge connection before its hello", metadata: ["code": "\(code)", "reason": "\(reason.prefix(200))"])
            context.close(promise: nil)
        default:
            logger.warning("bridge link: \(message.name) before the host's challenge; closing")
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.warning("bridge link: \(error); closing")
        context.close(promise: nil)
    }
}
