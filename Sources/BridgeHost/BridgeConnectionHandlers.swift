import EnclaveWire
import Logging
import NIOCore
import VsockBridge

/// The host's end of the control channel: answers each heartbeat with its own clock (the enclave's only time
/// source besides its own counter) and reports hello, heartbeats, status and the end of the connection.
final class ControlConnectionHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = WireMessage
    typealias OutboundOut = WireMessage

    let session: UInt64
    let logger: Logger
    let onEvent: @Sendable (ControlEvent) -> Void

    init(session: UInt64, logger: Logger, onEvent: @escaping @Sendable (ControlEvent) -> Void) {
        self.session = session
        self.logger = logger
        self.onEvent = onEvent
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .heartbeat(let sequence, let time):
            context.writeAndFlush(wrapOutboundOut(.heartbeat(sequence: sequence, time: UInt64(WallClock.milliseconds()))), promise: nil)
            onEvent(.heartbeat(session: session, sequence: sequence, time: time))
        case .status(let status):
            onEvent(.status(session: session, status))
        case .close(let code, let reason):
            logger.notice("enclave closed its control channel", metadata: ["code": "\(code)", "reason": "\(reason.prefix(200))"])
            context.close(promise: nil)
        case let other:
            logger.warning("control channel: unexpected \(other.name); closing")
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        closeOnHalfClose(context: context, event: event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        onEvent(.closed(session: session))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.warning("control channel: \(error); closing")
        context.close(promise: nil)
    }
}

/// The host's end of the log channel: each record goes to `onLog`.
final class LogConnectionHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = WireMessage

    let logger: Logger
    let onLog: @Sendable (LogRecord) -> Void

    init(logger: Logger, onLog: @escaping @Sendable (LogRecord) -> Void) {
        self.logger = logger
        self.onLog = onLog
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .log(let record): onLog(record)
        case .close: context.close(promise: nil)
        case let other:
            logger.warning("log channel: unexpected \(other.name); closing")
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.warning("log channel: \(error); closing")
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        closeOnHalfClose(context: context, event: event)
    }
}

/// Sits on an idle ingress tunnel until the pool hands it out: the enclave has nothing to say on an idle tunnel,
/// so a byte from it is a protocol error and closes the tunnel.
final class IdleTunnelGuard: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = ByteBuffer

    let logger: Logger
    init(logger: Logger) { self.logger = logger }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        logger.warning("idle ingress tunnel sent \(unwrapInboundIn(data).readableBytes) bytes before it was paired; closing")
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        closeOnHalfClose(context: context, event: event)
    }
}
