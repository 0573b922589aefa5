import EnclaveWire
import Logging
import NIOCore
import NIOPosix
import Synchronization
import VsockBridge

/// One long-lived framed connection the enclave keeps to the host's bridge (control or log): dialed, greeted
/// with `hello`, and dialed again with backoff whenever it drops, until stopped.
final class BridgeLink: Sendable {
    private struct State {
        var channel: Channel?
        var stopped = false
        var attempt = 0
    }

    let bridge: BridgeAddress
    let hello: WireMessage
    private let maxFrameSize: Int
    private let group: EventLoopGroup
    private let logger: Logger
    private let onConnect: @Sendable (Channel) -> Void
    private let onMessage: @Sendable (WireMessage, Channel) -> Void
    private let state = Mutex(State())

    init(
        bridge: BridgeAddress, hello: WireMessage, maxFrameSize: Int, group: EventLoopGroup, logger: Logger,
        onConnect: @escaping @Sendable (Channel) -> Void, onMessage: @escaping @Sendable (WireMessage, Channel) -> Void
    ) {
        self.bridge = bridge
        self.hello = hello
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
                    try ops.addHandler(LinkHandler(onMessage: onMessage, logger: logger))
                }
            }
        bridge.connect(bootstrap).whenComplete { [self] result in
            switch result {
            case .success(let channel):
                let keep = state.withLock { s -> Bool in
                    guard !s.stopped else { return false }
                    s.channel = channel
                    s.attempt = 0
                    return true
                }
                guard keep else { return channel.close(promise: nil) }
                channel.writeAndFlush(hello, promise: nil)
                onConnect(channel)
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

    private func retry() {
        let attempt = state.withLock { $0.attempt }
        let delay = min(2000, 50 << min(attempt, 6))
        group.next().scheduleTask(in: .milliseconds(Int64(delay))) { self.dial() }
    }
}

/// Passes each message of a link to its owner; protocol errors close the connection (the link redials).
private final class LinkHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = WireMessage

    let onMessage: @Sendable (WireMessage, Channel) -> Void
    let logger: Logger

    init(onMessage: @escaping @Sendable (WireMessage, Channel) -> Void, logger: Logger) {
        self.onMessage = onMessage
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        onMessage(unwrapInboundIn(data), context.channel)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.warning("bridge link: \(error); closing")
        context.close(promise: nil)
    }
}
