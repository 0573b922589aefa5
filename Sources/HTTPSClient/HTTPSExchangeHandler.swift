import NIOCore
import NIOHTTP1
import NIOSSL
import NIOTLS

/// Drives one exchange on a pipeline of TLS, HTTP/1.1 codec and this handler: once the handshake completes and
/// the host name matches, it writes the request; it collects the response within its bound and completes the
/// promise once, with the response or the first failure, then closes the channel.
final class HTTPSExchangeHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let request: HTTPSRequest
    private let serverName: String
    private let maxResponseBytes: Int
    private let promise: EventLoopPromise<HTTPSResponse>
    private var handshakeCompleted = false
    private var head: HTTPResponseHead?
    private var body: [UInt8] = []
    private var finished = false

    init(request: HTTPSRequest, serverName: String, maxResponseBytes: Int, promise: EventLoopPromise<HTTPSResponse>) {
        self.request = request
        self.serverName = serverName
        self.maxResponseBytes = maxResponseBytes
        self.promise = promise
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            handshakeCompleted = true
            guard peerMatches(context: context) else {
                return fail(context, HTTPSClientError(.hostnameMismatch, "the certificate does not name \(serverName)"))
            }
            sendRequest(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !finished else { return }
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
        case .body(var buffer):
            guard body.count + buffer.readableBytes <= maxResponseBytes else {
                return fail(context, HTTPSClientError(.responseTooLarge, "over \(maxResponseBytes) bytes of body"))
            }
            body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            guard let head else {
                return fail(context, HTTPSClientError(.malformedResponse, "the response ended before its head"))
            }
            finished = true
            promise.succeed(
                HTTPSResponse(
                    status: Int(head.status.code),
                    headers: head.headers.map { ($0.name, $0.value) },
                    body: body
                )
            )
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context, Self.classify(error, handshakeCompleted: handshakeCompleted))
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(context, HTTPSClientError(.closed, "the connection closed before the whole response arrived"))
        context.fireChannelInactive()
    }

    private func fail(_ context: ChannelHandlerContext, _ error: HTTPSClientError) {
        guard !finished else { return }
        finished = true
        promise.fail(error)
        context.close(promise: nil)
    }

    private func peerMatches(context: ChannelHandlerContext) -> Bool {
        guard let tls = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self),
            let der = try? tls.peerCertificate?.toDERBytes()
        else { return false }
        return HostnameCheck.matches(certificateDER: der, serverName: serverName)
    }

    private func sendRequest(context: ChannelHandlerContext) {
        var headers = HTTPHeaders(request.headers)
        if !headers.contains(name: "Host") { headers.add(name: "Host", value: serverName) }
        if !headers.contains(name: "Content-Length") {
            headers.add(name: "Content-Length", value: "\(request.body.count)")
        }
        let head = HTTPRequestHead(
            version: .http1_1,
            method: HTTPMethod(rawValue: request.method),
            uri: request.path,
            headers: headers
        )
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if !request.body.isEmpty {
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: request.body)))),
                promise: nil
            )
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    /// The code for an error NIO or TLS raised: the certificate chain, the name, the HTTP decoder, else a failed
    /// handshake before it completed and a broken connection after.
    static func classify(_ error: any Error, handshakeCompleted: Bool) -> HTTPSClientError {
        if let error = error as? HTTPSClientError { return error }
        if let error = error as? NIOSSLExtraError, error == .cannotUseIPAddressInSNI {
            return HTTPSClientError(
                .hostnameMismatch,
                "an IP address is not a server name: \(error)",
                underlying: error
            )
        }
        if case .handshakeFailed(let reason) = error as? NIOSSLError,
            "\(reason)".contains("CERTIFICATE_VERIFY_FAILED")
        {
            return HTTPSClientError(.untrustedCertificate, "\(reason)", underlying: error)
        }
        if error is HTTPParserError {
            return HTTPSClientError(.malformedResponse, "\(error)", underlying: error)
        }
        if handshakeCompleted { return HTTPSClientError(.closed, "\(error)", underlying: error) }
        return HTTPSClientError(.handshakeFailed, "\(error)", underlying: error)
    }
}
