import NIOCore

/// Joins two channels into one byte stream each way, with backpressure: a side reads only while its partner can
/// take more, a half-close crosses over as a half-close, and either side closing closes both. The two channels
/// may live on different event loops; each handler touches its own channel only on its own loop.
public final class SpliceHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private var partner: NIOLoopBound<SpliceHandler>?
    private var partnerChannel: Channel?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private var inputClosed = false
    private var batch: [ByteBuffer] = []
    private init() {}

    /// Adds a splice handler to `channel`, which must be called on its event loop. Until the handler is linked to
    /// a partner it reads nothing more and keeps what already arrived; `prefix` (bytes read before the handler was
    /// there) goes first.
    public static func attach(to channel: Channel, prefix: ByteBuffer? = nil) throws -> NIOLoopBound<SpliceHandler> {
        let h = SpliceHandler()
        if let prefix, prefix.readableBytes > 0 { h.batch.append(prefix) }
        try channel.pipeline.syncOperations.addHandler(h)
        return NIOLoopBound(h, eventLoop: channel.eventLoop)
    }

    /// Links two attached handlers so that bytes flow both ways.
    public static func link(_ a: NIOLoopBound<SpliceHandler>, on aChannel: Channel, _ b: NIOLoopBound<SpliceHandler>, on bChannel: Channel) {
        a.eventLoop.execute { a.value.pair(with: b, channel: bChannel) }
        b.eventLoop.execute { b.value.pair(with: a, channel: aChannel) }
    }

    private func pair(with partner: NIOLoopBound<SpliceHandler>, channel: Channel) {
        self.partner = partner
        self.partnerChannel = channel
        guard let context else { return }
        flushBatchToPartner()
        if !context.channel.isActive {
            closePartner()
            return
        }
        if inputClosed {
            onPartner { $0.partnerInputClosed() }
            return
        }
        pendingRead = false
        context.read()
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.partner = nil
        self.partnerChannel = nil
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        batch.append(unwrapInboundIn(data))
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        flushBatchToPartner()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        flushBatchToPartner()
        closePartner()
        context.fireChannelInactive()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            inputClosed = true
            flushBatchToPartner()
            onPartner { $0.partnerInputClosed() }
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A reset or a refused write: this stream is over, in both directions.
        context.close(promise: nil)
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            onPartner { $0.partnerBecameWritable() }
        }
        context.fireChannelWritabilityChanged()
    }

    public func read(context: ChannelHandlerContext) {
        // Nothing is read before the partner is known, nor while it cannot take more.
        if partnerChannel == nil || !partnerChannel!.isWritable {
            pendingRead = true
        } else {
            context.read()
        }
    }

    // MARK: calls from the partner, always on this handler's loop

    private func partnerWrote(_ buffers: [ByteBuffer]) {
        guard let context else { return }
        for b in buffers { context.write(wrapOutboundOut(b), promise: nil) }
        context.flush()
    }

    private func partnerInputClosed() {
        guard let context else { return }
        // The partner will send nothing more: pass the end on, keeping the other direction open.
        context.close(mode: .output).whenFailure { [channel = context.channel] _ in channel.close(promise: nil) }
    }

    private func partnerClosed() {
        context?.close(promise: nil)
    }

    private func partnerBecameWritable() {
        guard let context, pendingRead else { return }
        pendingRead = false
        context.read()
    }

    // MARK: helpers

    private func flushBatchToPartner() {
        guard partner != nil, !batch.isEmpty else { return }
        let buffers = batch
        batch.removeAll(keepingCapacity: true)
        onPartner { $0.partnerWrote(buffers) }
    }

    private func closePartner() {
        onPartner { $0.partnerClosed() }
    }

    private func onPartner(_ body: @escaping @Sendable (SpliceHandler) -> Void) {
        guard let partner else { return }
        let loop = partner.eventLoop
        if loop.inEventLoop {
            body(partner.value)
        } else {
            loop.execute { body(partner.value) }
        }
    }
}
