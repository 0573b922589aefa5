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

    public static func blockingExchange(port: Int, send: [UInt8], halfClose: Bool = true, readUntil: Int? = nil, timeoutSeconds: Int = 60) throws -> [UInt8] {
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
