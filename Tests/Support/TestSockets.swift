import Foundation
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Why a test socket failed.
public struct SocketError: Error, CustomStringConvertible {
    public let description: String
}

/// Blocking loopback TCP for tests: connect, send, optionally half-close, read until EOF (or one whole frame when
/// `readUntil` is given).
public enum RawSocket {
    /// The same, on a thread of its own: a blocking read must not hold one of the few threads async code runs on.
    public static func exchange(port: Int, send: [UInt8], halfClose: Bool = true, readUntil: Int? = nil, timeoutSeconds: Int = 60) async throws -> [UInt8] {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try blockingExchange(port: port, send: send, halfClose: halfClose, readUntil: readUntil, timeoutSeconds: timeoutSeconds) })
            }
            thread.start()
        }
    }

    /// Against a bridge, which speaks first: reads its challenge frame, sends what `answer` makes of the challenge's
    /// bytes (a hello and whatever follows it), then reads as `exchange` does. Returns the bytes after the challenge.
    public static func challenged(
        port: Int, halfClose: Bool = true, readUntil: Int? = nil, timeoutSeconds: Int = 60, answer: @escaping @Sendable ([UInt8]) throws -> [UInt8]
    ) async throws -> [UInt8] {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(
                    with: Result {
                        try blockingExchange(port: port, send: [], halfClose: halfClose, readUntil: readUntil, timeoutSeconds: timeoutSeconds, answer: answer)
                    })
            }
            thread.start()
        }
    }

    public static func blockingExchange(
        port: Int, send: [UInt8], halfClose: Bool = true, readUntil: Int? = nil, timeoutSeconds: Int = 60,
        answer: (([UInt8]) throws -> [UInt8])? = nil
    ) throws -> [UInt8] {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SocketError(description: "socket failed") }
        defer { close(fd) }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { throw SocketError(description: "connect failed: errno \(errno)") }
        var send = send
        if let answer {
            // The challenge: a 4-byte length, then [9, bstr32] in CBOR.
            var header = [UInt8](repeating: 0, count: 4)
            try readExactly(fd, &header)
            let length = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
            guard length > 0, length < 256 else { throw SocketError(description: "the first frame is \(length) bytes, not a challenge") }
            var payload = [UInt8](repeating: 0, count: length)
            try readExactly(fd, &payload)
            guard payload.count == 36, payload[0] == 0x82, payload[1] == 0x09, payload[2] == 0x58, payload[3] == 32 else {
                throw SocketError(description: "the first frame is not a challenge")
            }
            send = try answer(Array(payload[4...]))
        }
        var offset = 0
        while offset < send.count {
            let n = send[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { break }
            offset += n
        }
        if halfClose { shutdown(fd, Int32(SHUT_WR)) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if let readUntil, out.count >= readUntil, !out.isEmpty {
                // One whole frame is enough for the caller.
                var b = ByteBuffer(bytes: out)
                if (try? WireFrameProbe.complete(&b)) == true { break }
            }
            let n = recv(fd, &chunk, chunk.count, 0)
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                throw SocketError(description: "read timed out after \(timeoutSeconds) s with \(out.count) bytes")
            }
            if n <= 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }
}

private func readExactly(_ fd: Int32, _ buffer: inout [UInt8]) throws {
    var got = 0
    while got < buffer.count {
        let n = buffer[got...].withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { throw SocketError(description: "the connection ended after \(got) of \(buffer.count) bytes") }
        got += n
    }
}

enum WireFrameProbe {
    static func complete(_ b: inout ByteBuffer) throws -> Bool {
        guard let length = b.getInteger(at: b.readerIndex, as: UInt32.self) else { return false }
        return b.readableBytes >= 4 + Int(length)
    }
}

/// A NIO echo server on a free loopback port; it closes when the peer half-closes.
public struct EchoServer: Sendable {
    public let channel: Channel
    public let port: Int

    public static func start() async throws -> EchoServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { c in c.eventLoop.makeCompletedFuture { try c.pipeline.syncOperations.addHandler(Echo()) } }
            .bind(host: "127.0.0.1", port: 0).get()
        return EchoServer(channel: channel, port: channel.localAddress!.port!)
    }

    final class Echo: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { context.writeAndFlush(data, promise: nil) }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let e = event as? ChannelEvent, e == .inputClosed { context.close(promise: nil) }
        }
    }
}

/// A port that was free a moment ago on 127.0.0.1.
public func freePort() throws -> Int {
    let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).wait()
    let port = channel.localAddress!.port!
    try channel.close().wait()
    return port
}
