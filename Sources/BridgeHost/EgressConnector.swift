import EnclaveWire
import Logging
import NIOCore
import NIOPosix
import VsockBridge

/// Turns a host name into addresses to connect to. The host's egress uses one that honours DNS TTLs, so a
/// destination that moves is followed when its record expires.
public protocol EgressResolver: Sendable {
    func addresses(host: String, port: Int) async throws -> [SocketAddress]
}

/// The host's end of an egress connection: the enclave asks for `host:port`; the host connects only if the pair
/// is on its allowlist, answers `connected` and splices, or answers `close` with the reason and logs it.
public final class EgressConnector: Sendable {
    /// Egress settings on the host.
    public struct Configuration: Sendable {
        public var allowlist: EgressAllowlist
        public var resolver: any EgressResolver
        public var connectTimeout = TimeAmount.seconds(10)
        public var maxFrameSize = WireFrame.defaultMaxFrameSize

        public init(allowlist: EgressAllowlist, resolver: any EgressResolver) {
            self.allowlist = allowlist
            self.resolver = resolver
        }
    }

    public let configuration: Configuration
    private let group: EventLoopGroup
    private let logger: Logger

    public init(configuration: Configuration, group: EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
    }

    /// Takes over a connection right after its `egress` hello (on the channel's loop).
    func handle(_ channel: Channel, rest: ByteBuffer) {
        final class Request {
            var host = ""
            var port: UInt16 = 0
        }
        let request = Request()
        let reader = FrameReader(
            maxFrameSize: configuration.maxFrameSize, deadline: .seconds(10), logger: logger,
            onMessage: { [logger] message, context in
                guard case .connect(let host, let port) = message else {
                    logger.warning("egress connection sent \(message.name) instead of connect; closing")
                    context.close(promise: nil)
                    return .keepReading
                }
                request.host = host
                request.port = port
                return .detach
            },
            onDetach: { [self] channel, rest in
                // Nothing more is read from the enclave until the destination is connected and spliced.
                guard let handler = try? SpliceHandler.attach(to: channel, prefix: rest) else { return channel.close(promise: nil) }
                let host = request.host, port = request.port
                Task { await self.connect(channel, handler, host: host, port: port) }
            })
        do {
            try channel.pipeline.syncOperations.addHandler(reader)
            if rest.readableBytes > 0 { channel.pipeline.fireChannelRead(rest) }
        } catch {
            channel.close(promise: nil)
        }
    }

    private func connect(_ enclave: Channel, _ enclaveHandler: NIOLoopBound<SpliceHandler>, host: String, port: UInt16) async {
        let destination = "\(host.prefix(253)):\(port)"
        guard configuration.allowlist.permits(host: host, port: port) else {
            logger.warning("egress refused: not on the allowlist", metadata: ["destination": "\(destination)"])
            try? await enclave.writeFrame(.close(code: "egressRefused", reason: "\(destination) is not on the host's egress allowlist")).get()
            try? await enclave.close()
            return
        }
        do {
            let addresses = try await configuration.resolver.addresses(host: host, port: Int(port))
            var lastError: Error = EgressFailure(description: "\(host) resolved to no address")
            for address in addresses {
                do {
                    let remote = try await ClientBootstrap(group: enclave.eventLoop)
                        .connectTimeout(configuration.connectTimeout)
                        .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                        .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                        .channelInitializer { channel in
                            channel.eventLoop.makeCompletedFuture { _ = try SpliceHandler.attach(to: channel) }
                        }
                        .connect(to: address).get()
                    try await enclave.writeFrame(.connected(address: "\(address)")).get()
                    try await remote.eventLoop.submit {
                        let remoteHandler = try remote.pipeline.syncOperations.handler(type: SpliceHandler.self)
                        SpliceHandler.link(enclaveHandler, on: enclave, NIOLoopBound(remoteHandler, eventLoop: remote.eventLoop), on: remote)
                    }.get()
                    logger.info("egress connected", metadata: ["destination": "\(destination)", "address": "\(address)"])
                    return
                } catch {
                    lastError = error
                }
            }
            throw lastError
        } catch {
            logger.warning("egress failed", metadata: ["destination": "\(destination)", "error": "\(error)"])
            try? await enclave.writeFrame(.close(code: "egressFailed", reason: "\(destination): \(error)")).get()
            try? await enclave.close()
        }
    }
}

/// Why an allowed destination could not be reached.
public struct EgressFailure: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// Resolves with the system resolver (getaddrinfo), which knows no TTL: every connection resolves again.
public struct SystemResolver: EgressResolver {
    public init() {}

    public func addresses(host: String, port: Int) async throws -> [SocketAddress] {
        try await NIOThreadPool.singleton.runIfActive {
            try [SocketAddress.makeAddressResolvingHost(host, port: port)]
        }
    }
}
