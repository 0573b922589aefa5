import EnclaveWire
import Logging
import NIOCore

/// Reads frames off a bridge connection and hands each message to `onMessage`, until that answers `.detach`:
/// then the reader leaves the pipeline and passes the bytes that followed the last frame (the start of a raw
/// stream) to `onDetach`. A frame that breaks the protocol, or no complete frame before `deadline`, closes the
/// connection with a logged reason and a `close` frame to the peer; nothing else on the bridge is affected.
public final class FrameReader: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    /// What the reader does after a message.
    public enum Next {
        case keepReading
        /// Leave the pipeline: the rest of the connection is not framed.
        case detach
        /// Send the peer a `close` with this code and reason, and close.
        case refuse(code: String, reason: String)
    }

    private let maxFrameSize: Int
    private let deadline: TimeAmount?
    private let logger: Logger
    private let onMessage: (WireMessage, ChannelHandlerContext) -> Next
    private let onDetach: (Channel, ByteBuffer) -> Void
    private var buffer = ByteBuffer()
    private var timer: Scheduled<Void>?
    private var done = false

    public init(
        maxFrameSize: Int = WireFrame.defaultMaxFrameSize, deadline: TimeAmount? = nil, logger: Logger,
        onMessage: @escaping (WireMessage, ChannelHandlerContext) -> Next,
        onDetach: @escaping (Channel, ByteBuffer) -> Void = { _, _ in }
    ) {
        self.maxFrameSize = maxFrameSize
        self.deadline = deadline
        self.logger = logger
        self.onMessage = onMessage
        self.onDetach = onDetach
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        guard let deadline else { return }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: deadline) {
            let (reader, context) = bound.value
            guard !reader.done else { return }
            reader.refuse(context: context, code: "timeout", reason: "no complete frame within \(deadline.nanoseconds / 1_000_000) ms")
        }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        do {
            while !done, let message = try WireFrame.next(from: &buffer, maxFrameSize: maxFrameSize) {
                timer?.cancel()
                timer = nil
                switch onMessage(message, context) {
                case .keepReading:
                    continue
                case .refuse(let code, let reason):
                    refuse(context: context, code: code, reason: reason)
                case .detach:
                    done = true
                    let rest = buffer
                    buffer = ByteBuffer()
                    let channel = context.channel
                    context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
                    onDetach(channel, rest)
                }
            }
            if !done { buffer.discardReadBytes() }
        } catch {
            refuse(context: context, code: error.code.rawValue, reason: error.message)
        }
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // While framed, a half-close is the end: nothing more will come.
        if let event = event as? ChannelEvent, event == .inputClosed, !done {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        if !done && buffer.readableBytes > 0 {
            logger.notice("bridge connection ended inside a frame", metadata: ["bytes": "\(buffer.readableBytes)"])
        }
        done = true
        timer?.cancel()
        context.fireChannelInactive()
    }

    private func refuse(context: ChannelHandlerContext, code: String, reason: String) {
        done = true
        timer?.cancel()
        logger.warning("closing bridge connection", metadata: ["code": "\(code)", "reason": "\(reason)"])
        var out = context.channel.allocator.buffer(capacity: 64)
        WireFrame.write(.close(code: code, reason: reason), to: &out)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in channel.close(promise: nil) }
    }
}

extension Channel {
    /// Writes one frame to this channel.
    @discardableResult
    public func writeFrame(_ message: WireMessage) -> EventLoopFuture<Void> {
        var out = allocator.buffer(capacity: 64)
        WireFrame.write(message, to: &out)
        return writeAndFlush(out)
    }
}

extension ChannelProver {
    /// The enclave's opening of an egress connection once the host's challenge is in: the proven hello, then the
    /// request for `host:port`, in one write.
    public func egressOpening(challenge: [UInt8], host: String, port: UInt16, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        var out = allocator.buffer(capacity: 4096)
        WireFrame.write(try hello(.egress, challenge: challenge), to: &out)
        WireFrame.write(.connect(host: host, port: port), to: &out)
        return out
    }
}
