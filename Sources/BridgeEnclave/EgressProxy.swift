import EnclaveWire
import Logging
import NIOCore
import NIOPosix
import Synchronization
import VsockBridge

/// The enclave's side of egress: an HTTP CONNECT proxy on an enclave-local port. A workload asks for
/// `CONNECT host:port`; the proxy checks its own allowlist first, then dials the host's bridge and asks for the
/// same destination. The workload gets `200` and a byte stream, or `403`/`502` with the reason, and both sides log.
public final class EgressProxy: Sendable {
    /// The most bytes a CONNECT request head may take.
    public static let maxRequestHead = 8192

    public let listenHost: String
    public let listenPort: Int
    public let bridge: BridgeAddress
    public let allowlist: EgressAllowlist
    private let prover: ChannelProver
    private let maxFrameSize: Int
    private let group: EventLoopGroup
    private let logger: Logger
    private let listener = Mutex<Channel?>(nil)
    private let counts = Mutex<(connected: UInt64, refused: UInt64)>((0, 0))

    public init(
        listenHost: String = "127.0.0.1", listenPort: Int, bridge: BridgeAddress, prover: ChannelProver, allowlist: EgressAllowlist,
        maxFrameSize: Int = WireFrame.defaultMaxFrameSize, group: EventLoopGroup, logger: Logger
    ) {
        self.listenHost = listenHost
        self.listenPort = listenPort
        self.bridge = bridge
        self.allowlist = allowlist
        self.prover = prover
        self.maxFrameSize = maxFrameSize
        self.group = group
        self.logger = logger
    }

    /// Connections made and refused so far.
    public var snapshot: (connected: UInt64, refused: UInt64) { counts.withLock { $0 } }

    /// Binds the proxy's listener; returns the bound port.
    @discardableResult
    public func start() async throws -> Int {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ConnectRequestReader(proxy: self))
                }
            }
        let channel = try await bootstrap.bind(host: listenHost, port: listenPort).get()
        listener.withLock { $0 = channel }
        return channel.localAddress?.port ?? listenPort
    }

    public func stop() async {
        let channel = listener.withLock { c -> Channel? in
            defer { c = nil }
            return c
        }
        try? await channel?.close()
    }

    /// Answers the workload with a status line and closes.
    func refuse(_ workload: Channel, status: String, code: String, reason: String, destination: String) {
        counts.withLock { $0.refused += 1 }
        logger.warning("egress refused", metadata: ["destination": "\(destination)", "code": "\(code)", "reason": "\(reason)"])
        var out = workload.allocator.buffer(capacity: 128)
        let body = "\(code): \(reason)\n"
        out.writeString("HTTP/1.1 \(status)\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
        workload.writeAndFlush(out).whenComplete { _ in workload.close(promise: nil) }
    }

    /// Called once the workload's request head is parsed (on its loop, reading paused).
    func connect(_ workload: Channel, _ workloadHandler: NIOLoopBound<SpliceHandler>, host: String, port: UInt16) {
        let destination = "\(host):\(port)"
        guard allowlist.permits(host: host, port: port) else {
            refuse(workload, status: "403 Forbidden", code: "egressRefused", reason: "\(destination) is not on the enclave's egress allowlist", destination: destination)
            return
        }
        final class Answer {
            var connected: String?
            var refusal: (code: String, reason: String)?
        }
        let bootstrap = ClientBootstrap(group: workload.eventLoop)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(5))
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let answer = Answer()
                    let bound = NIOLoopBound(answer, eventLoop: channel.eventLoop)
                    channel.closeFuture.whenComplete { [self] _ in
                        // The host closed without connecting: tell the workload why.
                        let a = bound.value
                        guard a.connected == nil else { return }
                        let (code, reason) = a.refusal ?? ("egressFailed", "the host closed the egress connection")
                        workload.eventLoop.execute {
                            self.refuse(workload, status: code == "egressRefused" ? "403 Forbidden" : "502 Bad Gateway", code: code, reason: reason, destination: destination)
                        }
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        FrameReader(
                            maxFrameSize: maxFrameSize, deadline: .seconds(30), logger: logger,
                            onMessage: { [prover] message, context in
                                switch message {
                                case .challenge(let nonce):
                                    // The host's challenge comes first: the hello proves this boot, then the request.
                                    do {
                                        let opening = try prover.egressOpening(challenge: nonce, host: host, port: port, allocator: context.channel.allocator)
                                        context.writeAndFlush(NIOAny(opening), promise: nil)
                                        return .keepReading
                                    } catch {
                                        answer.refusal = ("channelUnproven", "cannot prove this boot to the host: \(error)")
                                        context.close(promise: nil)
                                    }
                                case .connected(let address):
                                    answer.connected = address
                                    return .detach
                                case .close(let code, let reason):
                                    answer.refusal = (code, reason)
                                    context.close(promise: nil)
                                default:
                                    answer.refusal = ("protocol", "the host answered \(message.name)")
                                    context.close(promise: nil)
                                }
                                return .keepReading
                            },
                            onDetach: { [self] bridgeChannel, bridgeRest in
                                counts.withLock { $0.connected += 1 }
                                logger.info("egress connected", metadata: ["destination": "\(destination)", "address": "\(answer.connected ?? "")"])
                                let handler: NIOLoopBound<SpliceHandler>
                                do {
                                    handler = try SpliceHandler.attach(to: bridgeChannel, prefix: bridgeRest)
                                } catch {
                                    bridgeChannel.close(promise: nil)
                                    return
                                }
                                workload.eventLoop.execute {
                                    var ok = workload.allocator.buffer(capacity: 64)
                                    ok.writeString("HTTP/1.1 200 Connection Established\r\n\r\n")
                                    workload.writeAndFlush(ok, promise: nil)
                                    SpliceHandler.link(workloadHandler, on: workload, handler, on: bridgeChannel)
                                }
                            }))
                }
            }
        bridge.connect(bootstrap).whenComplete { [self] result in
            switch result {
            case .success:
                break
            case .failure(let error):
                workload.eventLoop.execute {
                    self.refuse(workload, status: "502 Bad Gateway", code: "bridgeUnreachable", reason: "\(error)", destination: destination)
                }
            }
        }
    }
}

/// Reads one CONNECT request head from a workload, strictly and within `EgressProxy.maxRequestHead` bytes.
final class ConnectRequestReader: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let proxy: EgressProxy
    private var head = ByteBuffer()
    private var done = false

    init(proxy: EgressProxy) { self.proxy = proxy }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        var incoming = unwrapInboundIn(data)
        head.writeBuffer(&incoming)
        let view = head.readableBytesView
        guard let end = Self.headEnd(view) else {
            if head.readableBytes > EgressProxy.maxRequestHead {
                done = true
                proxy.refuse(context.channel, status: "431 Request Header Fields Too Large", code: "badRequest", reason: "request head over \(EgressProxy.maxRequestHead) bytes", destination: "?")
            }
            return
        }
        done = true
        let text = String(decoding: view[view.startIndex..<end], as: UTF8.self)
        head.moveReaderIndex(forwardBy: end - view.startIndex + 4)
        let rest = head
        switch Self.parse(text) {
        case .failure(let reason):
            proxy.refuse(context.channel, status: reason.status, code: "badRequest", reason: reason.text, destination: "?")
        case .success(let (host, port)):
            let channel = context.channel
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            // The splice handler holds the workload's further bytes (and keeps those already read) until linked.
            guard let handler = try? SpliceHandler.attach(to: channel, prefix: rest) else { return channel.close(promise: nil) }
            proxy.connect(channel, handler, host: host, port: port)
        }
    }

    // A workload that ends its side before a whole request head has nothing more to say.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        closeOnHalfClose(context: context, event: event)
    }

    struct BadRequest: Error {
        let status: String
        let text: String
    }

    /// The destination of a `CONNECT host:port HTTP/1.x` head.
    static func parse(_ head: String) -> Result<(String, UInt16), BadRequest> {
        let line = head.split(separator: "\r\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let parts = line.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[2] == "HTTP/1.1" || parts[2] == "HTTP/1.0" else {
            return .failure(BadRequest(status: "400 Bad Request", text: "expected CONNECT host:port HTTP/1.1"))
        }
        guard parts[0] == "CONNECT" else {
            return .failure(BadRequest(status: "405 Method Not Allowed", text: "this proxy only tunnels (CONNECT)"))
        }
        guard case .tcp(let host, let port)? = try? BridgeAddress("tcp://" + parts[1]) else {
            return .failure(BadRequest(status: "400 Bad Request", text: "the target must be host:port"))
        }
        return .success((host, UInt16(port)))
    }

    /// Index of the CRLFCRLF that ends the head, if it has arrived.
    static func headEnd(_ view: ByteBufferView) -> Int? {
        guard view.count >= 4 else { return nil }
        var i = view.startIndex
        while i + 3 < view.endIndex {
            if view[i] == 13 && view[i + 1] == 10 && view[i + 2] == 13 && view[i + 3] == 10 { return i }
            i += 1
        }
        return nil
    }
}
