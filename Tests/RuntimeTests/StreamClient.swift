import NIOCore
import NIOPosix

/// A loopback client that streams bytes from a generator with backpressure, half-closes, and collects the answer.
enum StreamClient {
    /// Sends `first` and then every chunk `next` yields, half-closes, and returns everything received until close.
    static func exchange(port: Int, first: [UInt8], next: @escaping @Sendable () -> ByteBuffer?) async throws -> [UInt8] {
        let promise = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: [UInt8].self)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Pump(first: first, next: next, done: promise))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        _ = channel
        return try await promise.futureResult.get()
    }

    /// `command\n` then `payload`, and the answer.
    static func send(port: Int, command: String, payload: [UInt8]) async throws -> [UInt8] {
        let box = OnceBox(payload)
        return try await exchange(port: port, first: Array((command + "\n").utf8)) {
            box.take().map { ByteBuffer(bytes: $0) }
        }
    }
}

final class OnceBox: @unchecked Sendable {
    private var value: [UInt8]?
    init(_ value: [UInt8]) { self.value = value }
    func take() -> [UInt8]? {
        defer { value = nil }
        return value
    }
}

private final class Pump: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let first: [UInt8]
    let next: () -> ByteBuffer?
    let done: EventLoopPromise<[UInt8]>
    var received: [UInt8] = []
    var finished = false

    init(first: [UInt8], next: @escaping () -> ByteBuffer?, done: EventLoopPromise<[UInt8]>) {
        self.first = first
        self.next = next
        self.done = done
    }

    func channelActive(context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(ByteBuffer(bytes: first)), promise: nil)
        pump(context)
        context.fireChannelActive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        pump(context)
    }

    private func pump(_ context: ChannelHandlerContext) {
        while !finished && context.channel.isWritable {
            guard let chunk = next() else {
                finished = true
                context.flush()
                context.close(mode: .output, promise: nil)
                return
            }
            context.write(wrapOutboundOut(chunk), promise: nil)
        }
        context.flush()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received.append(contentsOf: unwrapInboundIn(data).readableBytesView)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed { context.close(promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        done.succeed(received)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        done.fail(error)
        context.close(promise: nil)
    }
}
