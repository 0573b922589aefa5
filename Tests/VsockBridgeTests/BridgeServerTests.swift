import CBOR
import EnclaveWire
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing
import CloisterTestSupport

@testable import BridgeHost
@testable import VsockBridge

/// The host's bridge listener, in process, against hostile and honest peers on real loopback sockets.
@Suite struct BridgeServerTests {
    final class Events: Sendable {
        let control = Mutex<[ControlEvent]>([])
        let logs = Mutex<[LogRecord]>([])
    }

    static func server(allow: [String] = [], helloTimeout: TimeAmount = .seconds(2), events: Events = Events()) async throws -> (BridgeServer, Int) {
        var configuration = BridgeServer.Configuration(
            address: .tcp(host: "127.0.0.1", port: 0),
            egress: .init(allowlist: try EgressAllowlist(allow), resolver: SystemResolver()))
        configuration.helloTimeout = helloTimeout
        configuration.maxFrameSize = 4096
        let server = BridgeServer(
            configuration: configuration, group: MultiThreadedEventLoopGroup.singleton, pool: IngressPool(),
            logger: Logger(label: "test"), onControl: { e in events.control.withLock { $0.append(e) } },
            onLog: { r in events.logs.withLock { $0.append(r) } })
        let port = try #require(try await server.start())
        return (server, port)
    }

    static func frame(_ m: WireMessage) -> [UInt8] {
        var b = ByteBuffer()
        WireFrame.write(m, to: &b)
        return Array(b.readableBytesView)
    }

    static func frames(_ bytes: [UInt8]) -> [WireMessage] {
        var b = ByteBuffer(bytes: bytes)
        var out: [WireMessage] = []
        while let m = try? WireFrame.next(from: &b, maxFrameSize: 1 << 20) { out.append(m) }
        return out
    }

    /// Any CBOR item as one frame.
    static func raw(_ item: CBOR) -> [UInt8] {
        let payload = CBOREncoder.encode(item)
        return [UInt8(payload.count >> 24), UInt8(payload.count >> 16 & 0xFF), UInt8(payload.count >> 8 & 0xFF), UInt8(payload.count & 0xFF)] + payload
    }

    static func hello(_ kind: ChannelKind) -> [UInt8] { frame(.hello(version: 1, channel: kind, attestation: nil)) }

    /// Each hostile opening gets a `close` frame naming what was wrong, then the connection ends.
    @Test(arguments: [
        ([0x00, 0x10, 0x00, 0x01], "frameTooLarge"),
        ([0x00, 0x00, 0x00, 0x00], "emptyFrame"),
        ([0x00, 0x00, 0x00, 0x01, 0xFF], "malformedCBOR"),
        (frame(.hello(version: 2, channel: .control, attestation: nil)), "unsupportedVersion"),
        (raw([.unsigned(0), 1, "telnet", nil]), "unknownChannel"),
        (raw(.map(["a": 1])), "malformedMessage"),
    ] as [([UInt8], String)])
    func hostileOpeningsAreRefusedWithTheirCode(bytes: [UInt8], code: String) async throws {
        let (server, port) = try await Self.server()
        defer { Task { await server.stop() } }
        let answer = try await RawSocket.exchange(port: port, send: bytes)
        guard case .close(let got, _)? = Self.frames(answer).first else {
            Issue.record("no close frame, got \(answer.count) bytes")
            return
        }
        #expect(got == code)
    }

    @Test func silenceIsClosedAfterTheHelloTimeout() async throws {
        let (server, port) = try await Self.server(helloTimeout: .milliseconds(200))
        defer { Task { await server.stop() } }
        let started = ContinuousClock.now
        let answer = try await RawSocket.exchange(port: port, send: [0x00, 0x00], halfClose: false)
        // Closed by the server (not by the socket's own 20 s wait), and not before the timeout.
        #expect(ContinuousClock.now - started >= .milliseconds(200))
        guard case .close(let code, _)? = Self.frames(answer).first else {
            Issue.record("no close frame")
            return
        }
        #expect(code == "timeout")
    }

    @Test func aMessageBeforeHelloClosesTheConnection() async throws {
        let (server, port) = try await Self.server()
        defer { Task { await server.stop() } }
        let answer = try await RawSocket.exchange(port: port, send: Self.frame(.heartbeat(sequence: 1, time: 2)))
        #expect(Self.frames(answer).isEmpty)
    }

    @Test func queueAndStoreChannelsAreNotServedYet() async throws {
        let (server, port) = try await Self.server()
        defer { Task { await server.stop() } }
        for kind in [ChannelKind.queue, .store] {
            let answer = try await RawSocket.exchange(port: port, send: Self.hello(kind))
            guard case .close(let code, _)? = Self.frames(answer).first else {
                Issue.record("no close frame for \(kind)")
                continue
            }
            #expect(code == "unsupportedChannel")
        }
    }

    /// After every kind of garbage, an honest control channel still works: hello reaches the supervisor and a
    /// heartbeat is answered with one carrying the host's clock.
    @Test func honestControlChannelWorksAfterGarbage() async throws {
        let events = Events()
        let (server, port) = try await Self.server(events: events)
        defer { Task { await server.stop() } }
        _ = try await RawSocket.exchange(port: port, send: [0xFF, 0xFF, 0xFF, 0xFF])
        _ = try await RawSocket.exchange(port: port, send: [UInt8](repeating: 0x41, count: 100_000))
        let before = UInt64(WallClock.milliseconds())
        let answer = try await RawSocket.exchange(
            port: port, send: Self.frame(.hello(version: 1, channel: .control, attestation: [1, 2, 3])) + Self.frame(.heartbeat(sequence: 9, time: 5)),
            halfClose: false, readUntil: 1)
        guard case .heartbeat(let seq, let time)? = Self.frames(answer).first else {
            Issue.record("no heartbeat answer")
            return
        }
        #expect(seq == 9)
        #expect(time >= before)
        try await Task.sleep(for: .milliseconds(100))
        let seen = events.control.withLock { $0 }
        #expect(seen.contains { if case .hello(_, [1, 2, 3]) = $0 { true } else { false } })
        #expect(seen.contains { if case .heartbeat(_, 9, 5) = $0 { true } else { false } })
    }

    @Test func logRecordsReachTheHost() async throws {
        let events = Events()
        let (server, port) = try await Self.server(events: events)
        defer { Task { await server.stop() } }
        let record = LogRecord(time: 1, level: .warning, message: "from inside", metadata: ["k": "v"])
        _ = try await RawSocket.exchange(port: port, send: Self.hello(.log) + Self.frame(.log(record)))
        try await Task.sleep(for: .milliseconds(100))
        #expect(events.logs.withLock { $0 } == [record])
    }

    /// The host refuses a destination that is not on its own allowlist, whatever the enclave asks.
    @Test func egressToAnUnlistedDestinationIsRefusedByTheHost() async throws {
        let (server, port) = try await Self.server(allow: ["127.0.0.1:1"])
        defer { Task { await server.stop() } }
        let answer = try await RawSocket.exchange(port: port, send: Self.hello(.egress) + Self.frame(.connect(host: "127.0.0.1", port: 2)))
        guard case .close(let code, let reason)? = Self.frames(answer).first else {
            Issue.record("no close frame")
            return
        }
        #expect(code == "egressRefused")
        #expect(reason.contains("127.0.0.1:2"))
    }

    /// An allowed destination is connected and spliced: bytes after `connected` flow both ways.
    @Test func egressToAnAllowedDestinationIsSpliced() async throws {
        let echo = try await EchoServer.start()
        let (server, port) = try await Self.server(allow: ["127.0.0.1:\(echo.port)"])
        defer { Task { await server.stop() } }
        let payload = Array("through egress".utf8)
        let answer = try await RawSocket.exchange(
            port: port, send: Self.hello(.egress) + Self.frame(.connect(host: "127.0.0.1", port: UInt16(echo.port))) + payload)
        var buffer = ByteBuffer(bytes: answer)
        guard case .connected(let address)? = try WireFrame.next(from: &buffer, maxFrameSize: 4096) else {
            Issue.record("no connected frame: \(answer.count) bytes")
            return
        }
        #expect(address.contains("\(echo.port)"))
        #expect(Array(buffer.readableBytesView) == payload)
        try await echo.channel.close()
    }

    /// The bridge listener binds on AF_VSOCK (CID any), as on a parent instance; a full hello over vsock needs
    /// the vsock_loopback kernel module.
    @Test func bridgeListensOnVsock() async throws {
        guard VsockListenerTests.hasVsock else {
            print("SKIP: /dev/vsock is absent; the bridge-on-vsock test did not run")
            return
        }
        let port = UInt32.random(in: 20_000...60_000)
        let events = Events()
        let server = BridgeServer(
            configuration: .init(address: .vsock(cid: UInt32.max, port: port), egress: .init(allowlist: EgressAllowlist(), resolver: SystemResolver())),
            group: MultiThreadedEventLoopGroup.singleton, pool: IngressPool(), logger: Logger(label: "test"),
            onControl: { e in events.control.withLock { $0.append(e) } }, onLog: { _ in })
        try await server.start()
        defer { Task { await server.stop() } }
        guard VsockListenerTests.hasVsockLoopback else {
            print("SKIP: the vsock_loopback kernel module is not loaded; the hello over vsock did not run (the listener bound)")
            return
        }
        let client = try await BridgeAddress.vsock(cid: 1, port: port).connect(ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)).get()
        try await client.writeAndFlush(ByteBuffer(bytes: Self.frame(.hello(version: 1, channel: .control, attestation: [7])))).get()
        for _ in 0..<100 where events.control.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(10)) }
        #expect(events.control.withLock { $0.first } == .hello(session: 1, attestation: [7]))
        try await client.close()
    }
}
