import EnclaveWire
import Logging
import NIOCore
import NIOPosix
import Synchronization
import VsockBridge

/// The enclave's side of ingress: it keeps `poolSize` idle connections dialed to the host's bridge, each answering
/// the host's challenge with a hello as `ingress` that proves this boot, and then waiting. When the host pairs one with a client it sends `open`; the tunnel is handed
/// to `route` (on its event loop, before anything more is read) and a replacement is dialed at once.
public final class IngressTunnels: Sendable {
    /// Decides what serves a paired tunnel: called on the tunnel's loop with the enclave port, the client's
    /// address as the host reported it, and the first raw bytes already read.
    public typealias Router = @Sendable (_ port: UInt32, _ peer: String, _ tunnel: Channel, _ rest: ByteBuffer) -> Void

    private struct State {
        var idle = 0
        var active = 0
        var stopped = false
        var channels: [ObjectIdentifier: Channel] = [:]
    }

    public let bridge: BridgeAddress
    public let poolSize: Int
    private let prover: ChannelProver
    private let maxFrameSize: Int
    private let group: EventLoopGroup
    private let logger: Logger
    private let route: Router
    private let state = Mutex(State())

    public init(bridge: BridgeAddress, prover: ChannelProver, poolSize: Int, maxFrameSize: Int = WireFrame.defaultMaxFrameSize, group: EventLoopGroup, logger: Logger, route: @escaping Router) {
        self.bridge = bridge
        self.poolSize = poolSize
        self.prover = prover
        self.maxFrameSize = maxFrameSize
        self.group = group
        self.logger = logger
        self.route = route
    }

    /// Tunnels dialed and waiting.
    public var idleCount: Int { state.withLock { $0.idle } }
    /// Tunnels carrying a client.
    public var activeCount: Int { state.withLock { $0.active } }

    /// Dials the pool.
    public func start() {
        for _ in 0..<poolSize { dial(attempt: 0) }
    }

    /// Stops dialing and closes every tunnel.
    public func stop() {
        let channels = state.withLock { s -> [Channel] in
            s.stopped = true
            return Array(s.channels.values)
        }
        for c in channels { c.close(promise: nil) }
    }

    private func dial(attempt: Int) {
        guard !state.withLock({ $0.stopped }) else { return }
        let tunnel = Tunnel()
        let bootstrap = ClientBootstrap(group: group)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(5))
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture { try self.setUp(channel, tunnel) }
            }
        bridge.connect(bootstrap).whenComplete { [self] result in
            switch result {
            case .success(let channel):
                // On the channel's loop, before any of its close callbacks: from here on the close callback counts.
                tunnel.connected = true
                state.withLock { s in
                    s.channels[ObjectIdentifier(channel)] = channel
                    s.idle += 1
                }
                if state.withLock({ $0.stopped }) || !channel.isActive {
                    channel.close(promise: nil)
                    return
                }
            case .failure(let error):
                // The host is not there (yet, or any more): try again, backing off to at most two seconds.
                let delay = min(2000, 50 << min(attempt, 6))
                if attempt == 0 || attempt % 20 == 0 {
                    logger.notice("ingress tunnel: cannot reach the bridge", metadata: ["bridge": "\(bridge)", "error": "\(error)"])
                }
                group.next().scheduleTask(in: .milliseconds(Int64(delay))) { self.dial(attempt: attempt + 1) }
            }
        }
    }

    /// What one tunnel connection has been through. Touched only on its channel's event loop.
    private final class Tunnel: @unchecked Sendable {
        var connected = false
        var port: UInt32 = 0
        var peer = ""
        var paired = false
        var greeted = false
    }

    private func setUp(_ channel: Channel, _ opened: Tunnel) throws {
        let id = ObjectIdentifier(channel)
        channel.closeFuture.whenComplete { [self] _ in
            // A connection that never connected is the failure branch's to retry.
            guard opened.connected else { return }
            let redial = state.withLock { s -> Bool in
                s.channels[id] = nil
                if opened.paired { s.active -= 1 } else { s.idle -= 1 }
                return !s.stopped && !opened.paired
            }
            // An idle tunnel the host closed (it restarted, or shed its pool): dial its replacement after a pause.
            if redial { group.next().scheduleTask(in: .milliseconds(200)) { self.dial(attempt: 1) } }
        }
        let reader = FrameReader(
            maxFrameSize: maxFrameSize, logger: logger,
            onMessage: { [logger, prover] message, context in
                switch message {
                case .challenge(let nonce) where !opened.greeted:
                    opened.greeted = true
                    do {
                        let hello = try prover.hello(.ingress, challenge: nonce)
                        context.channel.writeFrame(hello)
                    } catch {
                        logger.error("ingress tunnel: cannot prove this boot to the host: \(error); closing")
                        context.close(promise: nil)
                    }
                    return .keepReading
                case .open(let port, let peer) where opened.greeted:
                    opened.port = port
                    opened.peer = peer
                    return .detach
                case .close(let code, let reason):
                    logger.info("host closed an idle ingress tunnel", metadata: ["code": "\(code)", "reason": "\(reason.prefix(200))"])
                    context.close(promise: nil)
                    return .keepReading
                default:
                    logger.warning("ingress tunnel: unexpected \(message.name) from the host; closing")
                    context.close(promise: nil)
                    return .keepReading
                }
            },
            onDetach: { [self] channel, rest in
                opened.paired = true
                state.withLock {
                    $0.idle -= 1
                    $0.active += 1
                }
                dial(attempt: 0)
                route(opened.port, opened.peer, channel, rest)
            })
        try channel.pipeline.syncOperations.addHandler(reader)
    }
}
