import CBOR
import EnclaveWire
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing
import CloisterTestSupport
import EnclaveRuntime

@testable import BridgeHost
@testable import VsockBridge

/// The host's bridge listener, in process, against hostile and honest peers on real loopback sockets.
@Suite struct BridgeServerTests {
    final class Events: Sendable {
        let control = Mutex<[ControlEvent]>([])
        let logs = Mutex<[LogRecord]>([])
    }

    /// One emulated root for the suite's bridges, and a credential under it (a stand-in for an enclave boot).
    static let root = try! TestBridgeProof.temporaryRoot()

    static func server(
        allow: [String] = [], helloTimeout: TimeAmount = .seconds(2), events: Events = Events(), builds: [[Int: [UInt8]]] = [],
        services: [ChannelKind: @Sendable (BridgeAuthenticator.Peer) -> any ChannelHandler] = [:]
    ) async throws -> (BridgeServer, Int) {
        var configuration = BridgeServer.Configuration(
            address: .tcp(host: "127.0.0.1", port: 0),
            egress: .init(allowlist: try EgressAllowlist(allow), resolver: SystemResolver()),
            authenticator: BridgeAuthenticator(roots: root.roots, builds: builds))
        configuration.helloTimeout = helloTimeout
        configuration.maxFrameSize = 1 << 20
        configuration.services = services
        let server = BridgeServer(
            configuration: configuration, group: MultiThreadedEventLoopGroup.singleton, pool: IngressPool(),
            logger: Logger(label: "test"), onControl: { e in events.control.withLock { $0.append(e) } },
            onLog: { r in events.logs.withLock { $0.append(r) } })
        let port = try #require(try await server.start())
        return (server, port)
    }

    static func credential(image: String = "test build") async throws -> BridgeCredential {
        try await TestBridgeProof.credential(emulatorDirectory: root.directory, image: image)
    }

    static func frame(_ m: WireMessage) -> [UInt8] { TestFrames.frame(m) }
    static func frames(_ bytes: [UInt8]) -> [WireMessage] { TestFrames.frames(bytes) }

    /// The code of the first `close` among `bytes`' frames.
    static func closeCode(_ bytes: [UInt8]) -> String? {
        for case .close(let code, _) in frames(bytes) { return code }
        return nil
    }

    /// Any CBOR item as one frame.
    static func raw(_ item: CBOR) -> [UInt8] {
        let payload = CBOREncoder.encode(item)
        return [UInt8(payload.count >> 24), UInt8(payload.count >> 16 & 0xFF), UInt8(payload.count >> 8 & 0xFF), UInt8(payload.count & 0xFF)] + payload
    }

    /// An unproven hello.
    static func hello(_ kind: ChannelKind) -> [UInt8] { frame(.hello(version: 2, channel: kind, attestation: nil, proof: nil)) }

    /// A proven exchange: the hello answers the bridge's challenge with `prover`, then `then` follows.
    static func proven(
        port: Int, _ kind: ChannelKind, prover: ChannelProver, attestation: [UInt8]? = nil, then: [UInt8] = [], halfClose: Bool = true,
        readUntil: Int? = nil
    ) async throws -> [UInt8] {
        try await RawSocket.challenged(port: port, halfClose: halfClose, readUntil: readUntil) { challenge in
            frame(try prover.hello(kind, challenge: challenge, attestation: attestation)) + then
        }
    }

    /// Each hostile opening gets a `close` frame naming what was wrong (after the challenge the host always sends
    /// first), then the connection ends.
    @Test(arguments: [
        ([0x00, 0x10, 0x00, 0x01], "frameTooLarge"),
        ([0x00, 0x00, 0x00, 0x00], "emptyFrame"),
        ([0x00, 0x00, 0x00, 0x01, 0xFF], "malformedCBOR"),
        (frame(.hello(version: 1, channel: .control, attestation: nil, proof: nil)), "unsupportedVersion"),
        (raw([.unsigned(0), 2, "telnet", nil, nil]), "unknownChannel"),
        (raw(.map(["a": 1])), "malformedMessage"),
        (raw([.unsigned(0), 1, "queue", nil]), "malformedMessage"),
    ] as [([UInt8], String)])
    func hostileOpeningsAreRefusedWithTheirCode(bytes: [UInt8], code: String) async throws {
        let (server, port) = try await Self.server()
        defer { Task { await server.stop() } }
        let answer = try await RawSocket.exchange(port: port, send: bytes)
        guard case .challenge(let nonce)? = Self.frames(answer).first else {
            Issue.record("no challenge first, got \(answer.count) bytes")
            return
        }
        #expect(nonce.count == 32)
        #expect(Self.closeCode(answer) == code)
    }

    @Test func silenceIsClosedAfterTheHelloTimeout() async throws {
        let (server, port) = try await Self.server(helloTimeout: .milliseconds(200))
        defer { Task { await server.stop() } }
        let started = ContinuousClock.now
        let answer = try await RawSocket.exchange(port: port, send: [0x00, 0x00], halfClose: false)
        // Closed by the server (not by the socket's own 20 s wait), and not before the timeout.
        #expect(ContinuousClock.now - started >= .milliseconds(200))
        #expect(Self.closeCode(answer) == "timeout")
    }

    @Test func aMessageBeforeHelloClosesTheConnection() async throws {
        let (server, port) = try await Self.server()
        defer { Task { await server.stop() } }
        let answer = try await RawSocket.exchange(port: port, send: Self.frame(.heartbeat(sequence: 1, time: 2)))
        #expect(Self.frames(answer).count == 1)
        #expect(Self.closeCode(answer) == nil)
    }

    @Test func eachChallengeIsFresh() async throws {
        let (server, port) = try await Self.server()
        defer { Task { await server.stop() } }
        var seen = Set<[UInt8]>()
        for _ in 0..<8 {
            guard case .challenge(let nonce)? = Self.frames(try await RawSocket.exchange(port: port, send: [])).first else {
                Issue.record("no challenge")
                return
            }
            seen.insert(nonce)
        }
        #expect(seen.count == 8)
    }

    /// A process that can reach the bridge port but holds no attested key: whatever channel it asks for, it is
    /// refused before any service sees it, and nothing reaches the supervisor, the log or the pool.
    @Test(arguments: ChannelKind.allCases)
    func aHelloWithoutProofIsRefusedOnEveryChannel(kind: ChannelKind) async throws {
        let events = Events()
        let made = Mutex(0)
        let services = Dictionary(uniqueKeysWithValues: [ChannelKind.queue, .store, .credentials].map { k in
            (k, { @Sendable (_: BridgeAuthenticator.Peer) -> any ChannelHandler in
                made.withLock { $0 += 1 }
                return Sink()
            })
        })
        let (server, port) = try await Self.server(allow: ["127.0.0.1:1"], events: events, services: services)
        defer { Task { await server.stop() } }
        var after: [UInt8] = Self.frame(.heartbeat(sequence: 1, time: 1))
        if kind == .egress { after = Self.frame(.connect(host: "127.0.0.1", port: 1)) }
        if kind == .log { after = Self.frame(.log(LogRecord(time: 1, level: .critical, message: "planted"))) }
        let attestation: [UInt8]? = kind == .control ? try await Self.credential().currentDocument : nil
        let answer = try await RawSocket.exchange(
            port: port, send: Self.frame(.hello(version: 2, channel: kind, attestation: attestation, proof: nil)) + after)
        #expect(Self.closeCode(answer) == "channelUnproven")
        try await Task.sleep(for: .milliseconds(50))
        #expect(events.control.withLock { $0 }.isEmpty)
        #expect(events.logs.withLock { $0 }.isEmpty)
        #expect(server.pool.idleCount == 0)
        #expect(made.withLock { $0 } == 0)
    }

    /// Proofs that are not an attested boot's answer to this challenge for this channel.
    @Test func proofsThatDoNotProveAnAttestedBootAreRefusedByName() async throws {
        let honest = try await Self.credential()
        let stranger = try TestBridgeProof.temporaryRoot()
        let foreign = try await TestBridgeProof.credential(emulatorDirectory: stranger.directory)
        let (server, port) = try await Self.server()
        defer { Task { await server.stop() } }
        // A document under another root (another machine's emulator; a home-made CA).
        #expect(Self.closeCode(try await Self.proven(port: port, .queue, prover: foreign.prover)) == "channelAttestationInvalid")
        // The enclave's own document, which anyone may have seen, signed by another key.
        let replayed = try TestBridgeProof.replaying(honest.currentDocument)
        #expect(Self.closeCode(try await Self.proven(port: port, .queue, prover: replayed)) == "channelProofInvalid")
        // An honest signature for another channel kind, or over another challenge.
        let otherKind = try await RawSocket.challenged(port: port) { challenge in
            var hello = try honest.prover.hello(.log, challenge: challenge)
            if case .hello(let v, _, let a, let p) = hello { hello = .hello(version: v, channel: .queue, attestation: a, proof: p) }
            return Self.frame(hello)
        }
        #expect(Self.closeCode(otherKind) == "channelProofInvalid")
        let otherChallenge = try await RawSocket.challenged(port: port) { challenge in
            Self.frame(try honest.prover.hello(.queue, challenge: challenge.map { $0 ^ 1 }))
        }
        #expect(Self.closeCode(otherChallenge) == "channelProofInvalid")
        // A document that is not an attestation at all.
        #expect(Self.closeCode(try await Self.proven(port: port, .store, prover: TestBridgeProof.unchecked)) == "channelAttestationInvalid")
        // A control hello whose boot document binds another key than the proof's.
        let other = try await Self.credential()
        #expect(
            Self.closeCode(try await Self.proven(port: port, .control, prover: honest.prover, attestation: other.currentDocument))
                == "channelBootMismatch")
        #expect(Self.closeCode(try await Self.proven(port: port, .control, prover: honest.prover)) == "channelBootMismatch")
    }

    /// With builds pinned, a boot of another build is refused even under the trusted root.
    @Test func aBootOfAnotherBuildIsRefusedWhenBuildsArePinned() async throws {
        let pinned = [TestBridgeProof.measurements(image: "build A")]
        let made = Mutex<[BridgeAuthenticator.Peer]>([])
        let (server, port) = try await Self.server(builds: pinned, services: [.queue: { peer in
            made.withLock { $0.append(peer) }
            return Sink()
        }])
        defer { Task { await server.stop() } }
        let b = try await Self.credential(image: "build B")
        #expect(Self.closeCode(try await Self.proven(port: port, .queue, prover: b.prover)) == "channelAttestationInvalid")
        let a = try await Self.credential(image: "build A")
        #expect(Self.closeCode(try await Self.proven(port: port, .queue, prover: a.prover, then: Self.frame(.close(code: "bye", reason: "")))) == nil)
        #expect(made.withLock { $0.map(\.key.spki) } == [a.currentDocumentKey])
    }

    /// A proven connection reaches its service, which learns the key that proved it.
    @Test func aProvenConnectionReachesItsServiceWithItsKey() async throws {
        let made = Mutex<[BridgeAuthenticator.Peer]>([])
        let (server, port) = try await Self.server(services: [.store: { peer in
            made.withLock { $0.append(peer) }
            return Sink()
        }])
        defer { Task { await server.stop() } }
        let credential = try await Self.credential()
        #expect(Self.closeCode(try await Self.proven(port: port, .store, prover: credential.prover)) == nil)
        #expect(made.withLock { $0.map(\.key.spki) } == [credential.currentDocumentKey])
    }

    /// The signed control hello gives the boot's MAC key; afterwards that boot's connections prove themselves with an
    /// HMAC. A MAC for an unknown boot, a wrong tag, a MAC on control and a MAC key offered off control are refused.
    @Test func aBootsMACKeyFromItsSignedControlHelloProvesItsLaterConnections() async throws {
        let events = Events()
        let made = Mutex<[BridgeAuthenticator.Peer]>([])
        let (server, port) = try await Self.server(events: events, services: [.queue: { peer in
            made.withLock { $0.append(peer) }
            return Sink()
        }])
        defer { Task { await server.stop() } }
        let credential = try await Self.credential()
        let prover = credential.prover
        prover.macUsable = true
        // Before any control hello of this boot, its MAC proves nothing.
        #expect(Self.closeCode(try await Self.proven(port: port, .queue, prover: prover)) == "channelMACUnknown")
        // A MAC key offered on another channel than control is refused.
        let offered = try await RawSocket.challenged(port: port) { challenge in
            guard case .signature(let d, _, _) = try prover.prove(.control, challenge: challenge) else { return [] }
            let k = [UInt8](repeating: 9, count: 32)
            return Self.frame(.hello(version: 2, channel: .queue, attestation: nil, proof: .signature(
                document: d, signature: [UInt8](repeating: 0, count: 96), macKey: k)))
        }
        #expect(Self.closeCode(offered) == "channelProofInvalid")
        // The signed control hello (with the boot document) gives the key...
        let boot = credential.currentDocument
        _ = try await Self.proven(port: port, .control, prover: prover, attestation: boot, then: Self.frame(.heartbeat(sequence: 1, time: 1)), halfClose: false, readUntil: 1)
        // ...and a MAC now proves a queue connection, as that boot's key.
        #expect(Self.closeCode(try await Self.proven(port: port, .queue, prover: prover)) == nil)
        #expect(made.withLock { $0.map(\.key.spki) } == [credential.currentDocumentKey])
        // A wrong tag, or a MAC over another channel kind.
        let wrong = try await RawSocket.challenged(port: port) { challenge in
            guard case .mac(let id, let tag) = try prover.prove(.queue, challenge: challenge) else { return [] }
            return Self.frame(.hello(version: 2, channel: .queue, attestation: nil, proof: .mac(keyID: id, tag: tag.map { $0 ^ 0x80 })))
        }
        #expect(Self.closeCode(wrong) == "channelProofInvalid")
        let otherKind = try await RawSocket.challenged(port: port) { challenge in
            Self.frame(.hello(version: 2, channel: .queue, attestation: nil, proof: try prover.prove(.log, challenge: challenge)))
        }
        #expect(Self.closeCode(otherKind) == "channelProofInvalid")
        // Control is always signed.
        let macControl = try await RawSocket.challenged(port: port) { challenge in
            Self.frame(.hello(version: 2, channel: .control, attestation: boot, proof: try prover.prove(.queue, challenge: challenge)))
        }
        #expect(Self.closeCode(macControl) == "channelProofInvalid")
    }

    @Test func queueAndStoreChannelsWithoutAServiceAreRefused() async throws {
        let (server, port) = try await Self.server()
        defer { Task { await server.stop() } }
        let credential = try await Self.credential()
        for kind in [ChannelKind.queue, .store] {
            #expect(Self.closeCode(try await Self.proven(port: port, kind, prover: credential.prover)) == "unsupportedChannel")
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
        let credential = try await Self.credential()
        let boot = credential.currentDocument
        let answer = try await Self.proven(
            port: port, .control, prover: credential.prover, attestation: boot, then: Self.frame(.heartbeat(sequence: 9, time: 5)), halfClose: false,
            readUntil: 1)
        guard case .heartbeat(let seq, let time)? = Self.frames(answer).first else {
            Issue.record("no heartbeat answer")
            return
        }
        #expect(seq == 9)
        #expect(time >= before)
        try await Task.sleep(for: .milliseconds(100))
        let seen = events.control.withLock { $0 }
        #expect(seen.contains { if case .hello(_, boot) = $0 { true } else { false } })
        #expect(seen.contains { if case .heartbeat(_, 9, 5) = $0 { true } else { false } })
    }

    @Test func logRecordsReachTheHost() async throws {
        let events = Events()
        let (server, port) = try await Self.server(events: events)
        defer { Task { await server.stop() } }
        let record = LogRecord(time: 1, level: .warning, message: "from inside", metadata: ["k": "v"])
        _ = try await Self.proven(port: port, .log, prover: try await Self.credential().prover, then: Self.frame(.log(record)))
        try await Task.sleep(for: .milliseconds(100))
        #expect(events.logs.withLock { $0 } == [record])
    }

    /// The host refuses a destination that is not on its own allowlist, whatever the enclave asks.
    @Test func egressToAnUnlistedDestinationIsRefusedByTheHost() async throws {
        let (server, port) = try await Self.server(allow: ["127.0.0.1:1"])
        defer { Task { await server.stop() } }
        let answer = try await Self.proven(port: port, .egress, prover: try await Self.credential().prover, then: Self.frame(.connect(host: "127.0.0.1", port: 2)))
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
        let answer = try await Self.proven(
            port: port, .egress, prover: try await Self.credential().prover, then: Self.frame(.connect(host: "127.0.0.1", port: UInt16(echo.port))) + payload)
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
            configuration: .init(
                address: .vsock(cid: UInt32.max, port: port), egress: .init(allowlist: EgressAllowlist(), resolver: SystemResolver()),
                authenticator: BridgeAuthenticator(roots: Self.root.roots)),
            group: MultiThreadedEventLoopGroup.singleton, pool: IngressPool(), logger: Logger(label: "test"),
            onControl: { e in events.control.withLock { $0.append(e) } }, onLog: { _ in })
        try await server.start()
        defer { Task { await server.stop() } }
        guard VsockListenerTests.hasVsockLoopback else {
            print("SKIP: the vsock_loopback kernel module is not loaded; the hello over vsock did not run (the listener bound)")
            return
        }
        let credential = try await Self.credential()
        let boot = credential.currentDocument
        let answered = Mutex(false)
        let client = try await BridgeAddress.vsock(cid: 1, port: port).connect(
            ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        FrameReader(logger: Logger(label: "test"), onMessage: { message, context in
                            if case .challenge(let nonce) = message, let hello = try? credential.prover.hello(.control, challenge: nonce, attestation: boot) {
                                context.channel.writeFrame(hello)
                                answered.withLock { $0 = true }
                            }
                            return .keepReading
                        }))
                }
            }
        ).get()
        for _ in 0..<100 where events.control.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(10)) }
        #expect(answered.withLock { $0 })
        #expect(events.control.withLock { $0.first } == .hello(session: 1, attestation: boot))
        try await client.close()
    }
}

/// A service handler that takes whatever a proven connection sends, and closes when the peer is done.
final class Sink: ChannelInboundHandler, Sendable {
    typealias InboundIn = WireMessage
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) { context.close(promise: nil) }
}
