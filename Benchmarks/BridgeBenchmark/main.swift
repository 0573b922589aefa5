// Bridge benchmark tool. `serve` runs the enclave's echo-hash workload on a plain TCP port (the raw baseline:
// the same workload code as behind the bridge, without the bridge); `throughput` and `rtt` are the clients, and
// run the same way against the raw server, a relay in front of it, or a host's ingress listener.
//
//   BridgeBenchmark serve --port P
//   BridgeBenchmark throughput --port P --bytes N [--streams K]
//   BridgeBenchmark rtt --port P --count N [--size 64]
//   BridgeBenchmark free-ports N
import EnclaveRuntime
import Foundation
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

func usage(_ message: String? = nil) -> Never {
    if let message { FileHandle.standardError.write(Data("BridgeBenchmark: \(message)\n".utf8)) }
    FileHandle.standardError.write(Data("""
        usage: BridgeBenchmark serve --port P
               BridgeBenchmark throughput --port P --bytes N [--streams K]
               BridgeBenchmark rtt --port P --count N [--size BYTES]
               BridgeBenchmark free-ports N

        """.utf8))
    exit(64)
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("BridgeBenchmark: \(message)\n".utf8))
    exit(1)
}

/// `--name value` options after the subcommand; every one must be known.
func options(_ arguments: ArraySlice<String>, known: Set<String>) -> [String: Int] {
    var out: [String: Int] = [:]
    var rest = arguments
    while let a = rest.popFirst() {
        if a == "-h" || a == "--help" { usage() }
        guard a.hasPrefix("--"), known.contains(String(a.dropFirst(2))) else { usage("unknown argument \(a)") }
        guard let v = rest.popFirst(), let n = Int(v), n >= 0 else { usage("\(a) needs a non-negative number") }
        out[String(a.dropFirst(2))] = n
    }
    return out
}

func required(_ o: [String: Int], _ name: String) -> Int {
    guard let v = o[name] else { usage("--\(name) is required") }
    return v
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

// MARK: serve

/// A plain TCP server running `EchoHashWorkload`, on the same event loop group as the enclave uses.
func serve(port: Int) throws -> Never {
    let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
        .serverChannelOption(ChannelOptions.backlog, value: 1024)
        .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
        .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture { try EchoHashWorkload().serve(channel, rest: ByteBuffer()) }
        }
        .bind(host: "127.0.0.1", port: port).wait()
    print("serving echo-hash on 127.0.0.1:\(channel.localAddress?.port ?? port)")
    fflush(nil)
    try channel.closeFuture.wait()
    exit(0)
}

// MARK: throughput

/// What one stream sends: `blocks` copies of a random block (the last one cut to size), each stamped in its first
/// 16 bytes with the stream number and the block number, so a lost, doubled or reordered block changes the hash.
struct Payload: Sendable {
    static let blockSize = 256 * 1024
    let block: [UInt8]
    let total: Int
    let stream: UInt64

    var blocks: Int { (total + Self.blockSize - 1) / Self.blockSize }

    func write(block index: Int, into buffer: inout ByteBuffer) {
        let length = min(Self.blockSize, total - index * Self.blockSize)
        let start = buffer.writerIndex
        _ = block.withUnsafeBytes { buffer.writeBytes(UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
        var stamp = (stream.littleEndian, UInt64(index).littleEndian)
        _ = withUnsafeBytes(of: &stamp) { s in
            buffer.setBytes(UnsafeRawBufferPointer(rebasing: s[0..<min(16, length)]), at: start)
        }
    }

    /// The SHA-256 of the whole stream, in lowercase hex, computed before any timing starts.
    func digest() -> String {
        let hasher = SHA256Stream()
        var buffer = ByteBuffer()
        buffer.reserveCapacity(Self.blockSize)
        for i in 0..<blocks {
            buffer.clear()
            write(block: i, into: &buffer)
            buffer.withUnsafeReadableBytes { hasher.update($0) }
        }
        return hasher.finish().map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}

func randomBlock() -> [UInt8] {
    var rng = SystemRandomNumberGenerator()
    var words = [UInt64](repeating: 0, count: Payload.blockSize / 8)
    for i in words.indices { words[i] = rng.next() }
    return words.withUnsafeBytes { Array($0) }
}

/// Sends `sha256\n` and the payload with backpressure, half-closes, and completes with the answer line.
final class HashPump: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let payload: Payload
    let done: EventLoopPromise<String>
    var next = 0
    var finished = false
    var answer = ByteBuffer()

    init(payload: Payload, done: EventLoopPromise<String>) {
        self.payload = payload
        self.done = done
    }

    func channelActive(context: ChannelHandlerContext) {
        var command = context.channel.allocator.buffer(capacity: 8)
        command.writeString("sha256\n")
        context.write(wrapOutboundOut(command), promise: nil)
        pump(context)
        context.fireChannelActive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        pump(context)
        context.fireChannelWritabilityChanged()
    }

    private func pump(_ context: ChannelHandlerContext) {
        while !finished && context.channel.isWritable {
            guard next < payload.blocks else {
                finished = true
                context.flush()
                context.close(mode: .output, promise: nil)
                return
            }
            var chunk = context.channel.allocator.buffer(capacity: Payload.blockSize)
            payload.write(block: next, into: &chunk)
            next += 1
            // Each block goes out at once; the kernel's socket buffer, not NIO's queue, does the batching.
            context.writeAndFlush(wrapOutboundOut(chunk), promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        answer.writeBuffer(&incoming)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let line = String(buffer: answer)
        if line.hasSuffix("\n") { done.succeed(String(line.dropLast())) } else { done.fail(BenchError("connection closed after \(answer.readableBytes) answer bytes (sent \(next) of \(payload.blocks) blocks): \(line.prefix(100))")) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        done.fail(error)
        context.close(promise: nil)
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

func throughput(port: Int, bytes: Int, streams: Int) throws {
    guard bytes > 0, streams > 0 else { usage("--bytes and --streams must be positive") }
    let block = randomBlock()
    let payloads = (0..<streams).map { Payload(block: block, total: bytes, stream: UInt64($0)) }
    let expected = payloads.map { $0.digest() }

    // One client thread: on a small machine the client should take as little CPU from the server as it can.
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    defer { try? group.syncShutdownGracefully() }
    let clock = ContinuousClock()
    let start = clock.now
    let answers = payloads.map { payload -> EventLoopFuture<String> in
        let loop = group.next()
        let promise = loop.makePromise(of: String.self)
        ClientBootstrap(group: loop)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .channelOption(ChannelOptions.writeBufferWaterMark, value: .init(low: 512 * 1024, high: 1024 * 1024))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(HashPump(payload: payload, done: promise)) }
            }
            .connect(host: "127.0.0.1", port: port)
            .whenFailure { promise.fail($0) }
        return promise.futureResult
    }
    var digests: [String] = []
    for a in answers {
        do { digests.append(try a.wait()) } catch { fail("throughput: \(error)") }
    }
    let elapsed = seconds(clock.now - start)
    for (i, (got, want)) in zip(digests, expected).enumerated() where got != want {
        fail("throughput: stream \(i) digest mismatch: got \(got.prefix(80)), expected \(want)")
    }
    let total = Double(bytes) * Double(streams)
    print("throughput mb_per_s=\(String(format: "%.1f", total / elapsed / 1e6)) bytes=\(bytes * streams) streams=\(streams) seconds=\(String(format: "%.3f", elapsed)) digests=ok")
}

// MARK: rtt

/// Blocking loopback socket with TCP_NODELAY.
func connectBlocking(port: Int) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { fail("socket: errno \(errno)") }
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    var tv = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard rc == 0 else { fail("connect to 127.0.0.1:\(port): errno \(errno)") }
    return fd
}

func sendAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) {
    var offset = 0
    while offset < bytes.count {
        let n = send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { fail("send: errno \(errno)") }
        offset += n
    }
}

func receiveExactly(_ fd: Int32, _ bytes: UnsafeMutableRawBufferPointer) {
    var offset = 0
    while offset < bytes.count {
        let n = recv(fd, bytes.baseAddress! + offset, bytes.count - offset, 0)
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { fail(n == 0 ? "rtt: connection closed mid-echo" : "rtt: recv errno \(errno)") }
        offset += n
    }
}

func rtt(port: Int, count: Int, size: Int) {
    guard count > 0, size > 0 else { usage("--count and --size must be positive") }
    let fd = connectBlocking(port: port)
    defer { close(fd) }
    Array("echo\n".utf8).withUnsafeBytes { sendAll(fd, $0) }
    var out = [UInt8](repeating: 0, count: size)
    var back = [UInt8](repeating: 0, count: size)
    let warmup = min(200, count)
    var samples: [Double] = []
    samples.reserveCapacity(count)
    let clock = ContinuousClock()
    for i in 0..<(warmup + count) {
        withUnsafeBytes(of: UInt64(i).littleEndian) { s in
            for j in 0..<min(8, size) { out[j] = s[j] }
        }
        let start = clock.now
        out.withUnsafeBytes { sendAll(fd, $0) }
        back.withUnsafeMutableBytes { receiveExactly(fd, $0) }
        let took = seconds(clock.now - start)
        guard back == out else { fail("rtt: echo \(i) differs from what was sent") }
        if i >= warmup { samples.append(took * 1e6) }
    }
    // The workload closes once the client half-closes and every echo has gone out.
    shutdown(fd, Int32(SHUT_WR))
    var tail = [UInt8](repeating: 0, count: 64)
    guard recv(fd, &tail, tail.count, 0) == 0 else { fail("rtt: bytes or an error where the end of stream was expected") }
    samples.sort()
    func percentile(_ p: Double) -> Double { samples[min(samples.count - 1, Int((p * Double(samples.count)).rounded(.up)) - 1)] }
    let mean = samples.reduce(0, +) / Double(samples.count)
    let figures = String(format: "p50_us=%.1f p99_us=%.1f mean_us=%.1f", percentile(0.50), percentile(0.99), mean)
    print("rtt \(figures) count=\(count) size=\(size)")
}

// MARK: free-ports

/// Prints `n` distinct loopback ports that were free a moment ago (all held at once, then released).
func freePorts(_ n: Int) {
    var fds: [Int32] = []
    var ports: [Int] = []
    for _ in 0..<n {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard fd >= 0, ok else { fail("free-ports: errno \(errno)") }
        fds.append(fd)
        ports.append(Int(UInt16(bigEndian: addr.sin_port)))
    }
    fds.forEach { close($0) }
    print(ports.map(String.init).joined(separator: " "))
}

// MARK: main

var arguments = CommandLine.arguments.dropFirst()
guard let command = arguments.popFirst() else { usage() }
switch command {
case "serve":
    let o = options(arguments, known: ["port"])
    do { try serve(port: required(o, "port")) } catch { fail("serve: \(error)") }
case "throughput":
    let o = options(arguments, known: ["port", "bytes", "streams"])
    do { try throughput(port: required(o, "port"), bytes: required(o, "bytes"), streams: o["streams"] ?? 1) } catch { fail("throughput: \(error)") }
case "rtt":
    let o = options(arguments, known: ["port", "count", "size"])
    rtt(port: required(o, "port"), count: required(o, "count"), size: o["size"] ?? 64)
case "free-ports":
    guard let v = arguments.popFirst(), let n = Int(v), (1...64).contains(n), arguments.isEmpty else { usage() }
    freePorts(n)
case "-h", "--help", "help": usage()
default: usage("unknown subcommand \(command)")
}
