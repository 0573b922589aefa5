import EnclaveWire
import Logging
import NIOCore

/// The host's end of a `credentials` connection: answers each request with the instance role's current
/// credentials, or a refusal naming why there are none.
final class CredentialsChannelHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = WireMessage
    let refresher: InstanceCredentialsRefresher
    let logger: Logger

    init(refresher: InstanceCredentialsRefresher, logger: Logger) {
        self.refresher = refresher
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .data(let bytes) = unwrapInboundIn(data), case .request(let id)? = try? CredentialsMessage(encoded: bytes) else {
            logger.warning("closing credentials channel", metadata: ["code": "malformedMessage"])
            let channel = context.channel
            context.writeAndFlush(NIOAny(WireMessage.close(code: "malformedMessage", reason: "not a credentials request")))
                .whenComplete { _ in channel.close(promise: nil) }
            return
        }
        let answer: CredentialsMessage
        if let c = refresher.current {
            answer = .credentials(
                id: id, accessKeyID: c.accessKeyID, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken,
                expiration: Int64(c.expiration.timeIntervalSince1970.rounded(.down)))
        } else {
            answer = .refused(id: id, code: "unavailable", reason: refresher.failureReason ?? "instance credentials: none yet")
        }
        context.writeAndFlush(NIOAny(WireMessage.data(answer.encoded)), promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
}
