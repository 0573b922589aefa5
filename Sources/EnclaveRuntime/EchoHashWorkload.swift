import NIOCore

/// The test workload. A client sends one command line, then data:
/// - `echo\n`: every byte after the line comes back, until the client closes its side.
/// - `sha256\n`: the bytes after the line are hashed until the client closes its side (half-close); the answer
///   is the SHA-256 in lowercase hex and a newline, then the server closes.
/// Anything else gets `error: ...\n` and a close. The command line is at most 64 bytes.
public struct EchoHashWorkload: Workload {
    public static let name = "echo-hash"
    public var name: String { Self.name }

    public init() {}

    public func serve(_ channel: Channel, rest: ByteBuffer) throws {
        try channel.pipeline.syncOperations.addHandler(EchoHashHandler())
        if rest.readableBytes > 0 { channel.pipeline.fireChannelRead(rest) }
        // No explicit read: the channel reads on its own (autoRead), and a read asked for before a channel is
        // registered would leave it never reading.
    }
}

final class EchoHashHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Mode { case command, echo, hash }

    static let maxCommand = 64
    private var mode = Mode.command
    private var line = ByteBuffer()
    private let hasher = SHA256Stream()
    private var hashed: UInt64 = 0
    private var pendingRead = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if mode == .command {
            guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
                line.writeBuffer(&buffer)
                if line.readableBytes > Self.maxCommand { fail(context, "command line longer than \(Self.maxCommand) bytes") }
                return
            }
            var head = buffer.readSlice(length: newline - buffer.readerIndex + 1)!
            line.writeBuffer(&head)
            let command = String(decoding: line.readableBytesView.dropLast(), as: UTF8.self)
            guard line.readableBytes <= Self.maxCommand + 1 else { return fail(context, "command line longer than \(Self.maxCommand) bytes") }
            switch command {
            case "echo": mode = .echo
            case "sha256": mode = .hash
            default: return fail(context, "unknown command \"\(command.prefix(32))\" (send echo or sha256)")
            }
        }
        guard buffer.readableBytes > 0 else { return }
        switch mode {
        case .echo: context.write(wrapOutboundOut(buffer), promise: nil)
        case .hash:
            hashed += UInt64(buffer.readableBytes)
            buffer.withUnsafeReadableBytes { hasher.update($0) }
        case .command: break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if mode == .echo { context.flush() }
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let event = event as? ChannelEvent, event == .inputClosed else {
            return context.fireUserInboundEventTriggered(event)
        }
        switch mode {
        case .hash:
            let digest = hasher.finish().map { String($0, radix: 16).leftPadded(2) }.joined()
            var out = context.channel.allocator.buffer(capacity: 65)
            out.writeString(digest + "\n")
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in channel.close(promise: nil) }
        case .echo:
            // Writes complete in order: once this empty one is done, every echoed byte has gone out.
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
                channel.close(promise: nil)
            }
        case .command:
            context.close(promise: nil)
        }
    }

    // Echo reads only as fast as the client takes the echo back.
    func read(context: ChannelHandlerContext) {
        if context.channel.isWritable { context.read() } else { pendingRead = true }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable && pendingRead {
            pendingRead = false
            context.read()
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    private func fail(_ context: ChannelHandlerContext, _ reason: String) {
        mode = .command
        var out = context.channel.allocator.buffer(capacity: 80)
        out.writeString("error: \(reason)\n")
        let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in channel.close(promise: nil) }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
