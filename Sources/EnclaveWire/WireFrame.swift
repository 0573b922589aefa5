import CBOR
import NIOCore

extension WireFrame {
    /// Takes one whole frame off the front of `buffer` and decodes it; nil (consuming nothing) until a whole frame
    /// is there. An oversized length is refused as soon as its four bytes arrive, before the payload is buffered.
    public static func next(from buffer: inout ByteBuffer, maxFrameSize: Int) throws(WireError) -> WireMessage? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard length > 0 else { throw WireError(.emptyFrame, "a frame of zero bytes") }
        guard Int(length) <= maxFrameSize else {
            throw WireError(.frameTooLarge, "a frame of \(length) bytes, limit \(maxFrameSize)")
        }
        guard buffer.readableBytes >= headerSize + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: headerSize)
        let payload = buffer.readBytes(length: Int(length))!
        return try WireMessage(payload: payload, maxFrameSize: maxFrameSize)
    }

    /// Appends `message` to `buffer` as one frame.
    public static func write(_ message: WireMessage, to buffer: inout ByteBuffer) {
        let payload = CBOREncoder.encode(message.cbor)
        buffer.writeInteger(UInt32(payload.count))
        buffer.writeBytes(payload)
    }
}

/// Reads frames and decodes each into a `WireMessage`. An oversized length is refused as soon as its four bytes
/// arrive, before any of the payload is buffered; any refusal is thrown into the pipeline.
public struct WireMessageDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = WireMessage

    public let maxFrameSize: Int

    public init(maxFrameSize: Int = WireFrame.defaultMaxFrameSize) {
        self.maxFrameSize = maxFrameSize
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let message = try WireFrame.next(from: &buffer, maxFrameSize: maxFrameSize) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(message))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0 {
            let left = buffer.readableBytes
            buffer.moveReaderIndex(forwardBy: left)
            throw WireError(.truncatedFrame, "the connection ended \(left) bytes into a frame")
        }
        return .needMoreData
    }
}

/// Writes each `WireMessage` as one frame.
public struct WireMessageEncoder: MessageToByteEncoder, Sendable {
    public typealias OutboundIn = WireMessage

    public init() {}

    public func encode(data: WireMessage, out: inout ByteBuffer) throws {
        WireFrame.write(data, to: &out)
    }
}
