import EnclaveWire
import Logging
import NIOCore
import NIOPosix
import VsockBridge

/// The enclave's own outbound connections (its KMS client's), made the way the egress proxy makes a workload's:
/// an `egress` bridge connection asks the host for `host:port`, and once the host says `connected` the connection
/// is a raw byte stream to the destination. The host carries the bytes; whatever runs over it (TLS) must not trust
/// it.
public struct EgressDialer: Sendable {
    public let bridge: BridgeAddress
    public let allowlist: EgressAllowlist
    let prover: ChannelProver
    let maxFrameSize: Int
    let group: EventLoopGroup
    let logger: Logger

    public init(bridge: BridgeAddress, prover: ChannelProver, allowlist: EgressAllowlist, maxFrameSize: Int, group: EventLoopGroup, logger: Logger) {
        self.bridge = bridge
        self.prover = prover
        self.allowlist = allowlist
        self.maxFrameSize = maxFrameSize
        self.group = group
        self.logger = logger
    }

    /// Why a dial failed: the enclave's own allowlist (`egressRefused`), the host's answer, or the bridge.
    public struct Failure: Error, CustomStringConvertible {
        public let code: String
        public let reason: String
        public var description: String { "egress (\(code)): \(reason)" }
    }

    /// A connection to `host:port` through the host, with no handler of its own left on it.
    public func dial(host: String, port: UInt16, timeout: TimeAmount = .seconds(10)) async throws -> Channel {
        guard allowlist.permits(host: host, port: port) else {
            throw Failure(code: "egressRefused", reason: "\(host):\(port) is not on the enclave's egress allowlist")
        }
        let promise = group.next().makePromise(of: Channel.self)
        let bootstrap = ClientBootstrap(group: group)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(timeout)
            .channelInitializer { [maxFrameSize, logger, prover] channel in
                channel.eventLoop.makeCompletedFuture {
                    channel.closeFuture.whenComplete { _ in
                        promise.fail(Failure(code: "egressFailed", reason: "the host closed the egress connection to \(host):\(port)"))
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        FrameReader(
                            maxFrameSize: maxFrameSize, deadline: timeout, logger: logger,
                            onMessage: { message, context in
                                switch message {
                                case .challenge(let nonce):
                                    // The host's challenge comes first: the hello proves this boot, then the request.
                                    do {
                                        let opening = try prover.egressOpening(challenge: nonce, host: host, port: port, allocator: context.channel.allocator)
                                        context.writeAndFlush(NIOAny(opening), promise: nil)
                                        return .keepReading
                                    } catch {
                                        promise.fail(Failure(code: "channelUnproven", reason: "cannot prove this boot to the host: \(error)"))
                                    }
                                case .connected:
                                    // Reading pauses until TLS is in the pipeline: whatever the host sends first reaches
                                    // TLS, which refuses it, instead of being dropped unseen.
                                    do { try context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: false) } catch { context.close(promise: nil) }
                                    return .detach
                                case .close(let code, let reason):
                                    promise.fail(Failure(code: code, reason: reason))
                                default:
                                    promise.fail(Failure(code: "protocol", reason: "the host answered \(message.name)"))
                                }
                                context.close(promise: nil)
                                return .keepReading
                            },
                            onDetach: { channel, rest in
                                // Nothing may come before the client speaks first (TLS): bytes here are the host's.
                                guard rest.readableBytes == 0 else {
                                    promise.fail(Failure(code: "protocol", reason: "the host sent \(rest.readableBytes) bytes before the stream began"))
                                    channel.close(promise: nil)
                                    return
                                }
                                promise.succeed(channel)
                            }))
                }
            }
        do { _ = try await bridge.connect(bootstrap).get() } catch {
            promise.fail(Failure(code: "bridgeUnreachable", reason: "\(error)"))
            throw Failure(code: "bridgeUnreachable", reason: "\(error)")
        }
        return try await promise.futureResult.get()
    }
}
