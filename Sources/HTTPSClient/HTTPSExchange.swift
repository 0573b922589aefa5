import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// One HTTPS request and its response over a connection that is already open: TLS 1.2 or later, the server's
/// certificate checked against the trust roots given and no others, its name against `serverName`, the response
/// bounded in size and the whole exchange in time. The channel is closed when the exchange ends, however it ends.
///
/// ```swift
/// let response = try await HTTPSExchange.perform(
///     over: channel, serverName: "kms.eu-west-1.amazonaws.com", trustRoots: roots,
///     request: HTTPSRequest(method: "POST", path: "/", headers: headers, body: body),
///     maxResponseBytes: 128 * 1024, timeout: .seconds(10))
/// ```
public enum HTTPSExchange {
    /// Sends `request` over `channel` (connected, nothing in its pipeline) to `serverName` and returns the whole
    /// response. Throws an `HTTPSClientError` that names the rule broken (docs/kms-client.md).
    public static func perform(
        over channel: any Channel,
        serverName: String,
        trustRoots: [NIOSSLCertificate],
        request: HTTPSRequest,
        maxResponseBytes: Int,
        timeout: TimeAmount
    ) async throws(HTTPSClientError) -> HTTPSResponse {
        defer { channel.close(promise: nil) }
        guard !trustRoots.isEmpty else { throw HTTPSClientError(.untrustedCertificate, "no trust roots were given") }
        guard channel.isActive else { throw HTTPSClientError(.closed, "the channel is not open") }
        let context: NIOSSLContext
        do {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.trustRoots = .certificates(trustRoots)
            configuration.minimumTLSVersion = .tlsv12
            // The chain is verified by TLS; the name by HostnameCheck, which does not trust the peer's address.
            configuration.certificateVerification = .noHostnameVerification
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw HTTPSClientError(.handshakeFailed, "TLS configuration: \(error)", underlying: error)
        }

        let promise = channel.eventLoop.makePromise(of: HTTPSResponse.self)
        let timer = channel.eventLoop.scheduleTask(in: timeout) {
            promise.fail(HTTPSClientError(.timeout, "no whole response within \(timeout.nanoseconds / 1_000_000) ms"))
            channel.close(promise: nil)
        }
        defer { timer.cancel() }
        channel.eventLoop.execute {
            do {
                let pipeline = channel.pipeline.syncOperations
                try pipeline.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverName))
                try pipeline.addHTTPClientHandlers()
                try pipeline.addHandler(
                    HTTPSExchangeHandler(
                        request: request,
                        serverName: serverName,
                        maxResponseBytes: maxResponseBytes,
                        promise: promise
                    )
                )
                // A dialer may hand over a channel with reading paused, so that no byte arrives before TLS is in
                // place to refuse it.
                if let options = channel.syncOptions {
                    try options.setOption(ChannelOptions.autoRead, value: true)
                } else {
                    channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in channel.close(promise: nil) }
                }
                channel.read()
            } catch {
                promise.fail(HTTPSExchangeHandler.classify(error, handshakeCompleted: false))
                channel.close(promise: nil)
            }
        }
        do {
            return try await withTaskCancellationHandler {
                try await promise.futureResult.get()
            } onCancel: {
                promise.fail(HTTPSClientError(.timeout, "the task was cancelled"))
                channel.close(promise: nil)
            }
        } catch let error as HTTPSClientError {
            throw error
        } catch {
            throw HTTPSClientError(.closed, "\(error)", underlying: error)
        }
    }

    /// Opens a TCP connection to `host:port` for `perform(over:...)` (tests, and the host side, which needs no
    /// bridge); throws `connectFailed`.
    public static func connectTCP(
        host: String,
        port: Int,
        timeout: TimeAmount = .seconds(10),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(HTTPSClientError) -> any Channel {
        do {
            return try await ClientBootstrap(group: group).connectTimeout(timeout).connect(host: host, port: port).get()
        } catch {
            throw HTTPSClientError(.connectFailed, "\(host):\(port): \(error)", underlying: error)
        }
    }
}
