import EnclaveWire
import Logging
import NIOCore
import NIOPosix
import Synchronization
import VsockBridge

/// One public listener on the host. Each client connection is paired with an idle reverse tunnel from the pool:
/// the tunnel is told which enclave port the client is for, and from then on carries the client's bytes as they
/// are. A client that gets no tunnel within the hold time is closed and counted, never left hanging.
public final class IngressListener: Sendable {
    /// Counts the listener keeps, for health and metrics.
    public struct Counters: Sendable {
        public var accepted: UInt64 = 0
        public var paired: UInt64 = 0
        public var refused: UInt64 = 0
        public var active: Int64 = 0
    }

    public let host: String
    public let port: Int
    public let enclavePort: UInt32
    private let hold: TimeAmount
    private let pool: IngressPool
    private let group: EventLoopGroup
    private let logger: Logger
    private let listener = Mutex<Channel?>(nil)
    private let children = Mutex<[ObjectIdentifier: Channel]>([:])
    private let counters = Mutex(Counters())

    public init(host: String, port: Int, enclavePort: UInt32, hold: TimeAmount, pool: IngressPool, group: EventLoopGroup, logger: Logger) {
        self.host = host
        self.port = port
        self.enclavePort = enclavePort
        self.hold = hold
        self.pool = pool
        self.group = group
        self.logger = logger
    }

    public var snapshot: Counters { counters.withLock { $0 } }

    /// Binds the listener; returns the bound port.
    @discardableResult
    public func start() async throws -> Int {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(ChannelOptions.backlog, value: 4096)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(OnActive { self.accept($0) })
                }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        listener.withLock { $0 = channel }
        return channel.localAddress?.port ?? port
    }

    /// Stops accepting; waits up to `drain` for open connections to finish, then closes what is left.
    public func stop(drain: TimeAmount) async {
        let channel = listener.withLock { c -> Channel? in
            defer { c = nil }
            return c
        }
        try? await channel?.close()
        let deadline = NIODeadline.now() + drain
        while NIODeadline.now() < deadline, !children.withLock({ $0.isEmpty }) {
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        let left = children.withLock { $0.values }
        if !left.isEmpty { logger.notice("closing \(left.count) ingress connections still open after the drain time") }
        for c in left { c.close(promise: nil) }
    }

    private func accept(_ client: Channel) {
        // The splice handler goes in at once: until it has a partner it reads nothing, so the client's bytes wait
        // in the kernel.
        let handler: NIOLoopBound<SpliceHandler>
        do { handler = try SpliceHandler.attach(to: client) } catch {
            client.close(promise: nil)
            return
        }
        let id = ObjectIdentifier(client)
        children.withLock { $0[id] = client }
        counters.withLock {
            $0.accepted += 1
            $0.active += 1
        }
        client.closeFuture.whenComplete { [self] _ in
            children.withLock { _ = $0.removeValue(forKey: id) }
            counters.withLock { $0.active -= 1 }
        }
        let peer = client.remoteAddress.map { "\($0)" } ?? "unknown"
        pool.take(on: client.eventLoop, hold: hold).whenComplete { [self] result in
            switch result {
            case .success(let tunnel):
                self.pair(client, handler, tunnel, peer: peer)
            case .failure(let error):
                counters.withLock { $0.refused += 1 }
                logger.warning("ingress client refused: no enclave tunnel", metadata: ["peer": "\(peer)", "port": "\(port)", "reason": "\(error)"])
                client.close(promise: nil)
            }
        }
    }

    private func pair(_ client: Channel, _ clientHandler: NIOLoopBound<SpliceHandler>, _ tunnel: Channel, peer: String) {
        guard client.isActive else {
            // The client left while waiting: the tunnel is still idle and goes back.
            pool.add(tunnel)
            return
        }
        counters.withLock { $0.paired += 1 }
        let enclavePort = self.enclavePort
        tunnel.eventLoop.execute {
            do {
                let ops = tunnel.pipeline.syncOperations
                if let guardHandler = try? ops.handler(type: IdleTunnelGuard.self) {
                    ops.removeHandler(guardHandler, promise: nil)
                }
                tunnel.writeFrame(.open(port: enclavePort, peer: peer))
                let t = try SpliceHandler.attach(to: tunnel)
                SpliceHandler.link(clientHandler, on: client, t, on: tunnel)
            } catch {
                client.close(promise: nil)
                tunnel.close(promise: nil)
            }
        }
    }
}

/// Calls `body` once the channel is active (a child channel is not yet, inside its initializer), then leaves.
final class OnActive: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    let body: (Channel) -> Void
    init(_ body: @escaping (Channel) -> Void) { self.body = body }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        let channel = context.channel
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        body(channel)
    }
}
