import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A TLS HTTP/1.1 server on a free loopback port whose answer is chosen by the test; it counts the requests that
/// reached it.
final class TLSTestServer: Sendable {
    enum Behaviour: Sendable {
        /// 200 with a body of this many bytes (`x`), announcing its length.
        case respond(bytes: Int)
        /// Reads the request and never answers.
        case silent
        /// Closes the connection once the request head arrives.
        case close
    }

    let channel: any Channel
    let port: Int
    private let received = NIOLockedValueBox<[String]>([])

    /// Paths and body sizes of the requests that reached the server, `"POST / 12"`.
    var requests: [String] { received.withLockedValue { $0 } }

    init(configuration: TLSConfiguration, behaviour: Behaviour) async throws {
        let context = try NIOSSLContext(configuration: configuration)
        let received = self.received
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try child.pipeline.syncOperations.configureHTTPServerPipeline()
                    try child.pipeline.syncOperations.addHandler(Answer(behaviour: behaviour, received: received))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress!.port!
    }

    func stop() async { try? await channel.close() }

    final class Answer: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let behaviour: Behaviour
        let received: NIOLockedValueBox<[String]>
        var head: HTTPRequestHead?
        var bodyBytes = 0

        init(behaviour: Behaviour, received: NIOLockedValueBox<[String]>) {
            self.behaviour = behaviour
            self.received = received
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let h):
                head = h
                if case .close = behaviour { context.close(promise: nil) }
            case .body(let b):
                bodyBytes += b.readableBytes
            case .end:
                let line = "\(head?.method.rawValue ?? "?") \(head?.uri ?? "?") \(bodyBytes)"
                received.withLockedValue { $0.append(line) }
                guard case .respond(let bytes) = behaviour else { return }
                var headers = HTTPHeaders()
                headers.add(name: "Content-Length", value: "\(bytes)")
                headers.add(name: "X-Seen", value: line)
                context.write(
                    wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))),
                    promise: nil
                )
                context.write(
                    wrapOutboundOut(.body(.byteBuffer(ByteBuffer(repeating: UInt8(ascii: "x"), count: bytes)))),
                    promise: nil
                )
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
    }
}
