import EnclaveWire
import Logging
import NIOCore
import NIOPosix
import Testing
import VsockBridge
import CloisterTestSupport

@testable import EnclaveRuntime

/// The enclave's own egress dial against a host that answers what a test tells it to: the stream is handed over
/// only after `connected` and with nothing before it; a refusal keeps its code; the enclave's allowlist comes first.
@Suite struct EgressDialerTests {
    /// Sends a challenge when a connection opens, then answers with `answer` once the first bytes arrive (the
    /// dialer's hello and request), which it keeps.
    final class ScriptedHost: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let answer: [UInt8]
        let challenge = [UInt8](repeating: 7, count: ChannelProof.challengeSize)
        var sent = false
        init(answer: [UInt8]) { self.answer = answer }
        func channelActive(context: ChannelHandlerContext) {
            context.writeAndFlush(NIOAny(context.channel.allocator.buffer(bytes: EgressDialerTests.frame(.challenge(challenge)))), promise: nil)
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard !sent else { return }
            sent = true
            context.writeAndFlush(NIOAny(context.channel.allocator.buffer(bytes: answer)), promise: nil)
        }
    }

    static func dial(answer: [UInt8], allow: [String] = ["kms.example:443"]) async throws -> Result<Channel, EgressDialer.Failure> {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(ScriptedHost(answer: answer)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { server.close(promise: nil) }
        let dialer = EgressDialer(
            bridge: .tcp(host: "127.0.0.1", port: server.localAddress!.port!), prover: TestBridgeProof.unchecked, allowlist: try EgressAllowlist(allow),
            maxFrameSize: WireFrame.defaultMaxFrameSize, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"))
        do { return .success(try await dialer.dial(host: "kms.example", port: 443, timeout: .seconds(20))) } catch let failure as EgressDialer.Failure {
            return .failure(failure)
        }
    }

    static func frame(_ message: WireMessage) -> [UInt8] {
        var buffer = ByteBuffer()
        WireFrame.write(message, to: &buffer)
        return Array(buffer.readableBytesView)
    }

    static func code(_ r: Result<Channel, EgressDialer.Failure>) -> String? {
        if case .failure(let f) = r { return f.code }
        return nil
    }

    @Test func theStreamIsHandedOverAfterConnectedAndPaused() async throws {
        let r = try await Self.dial(answer: Self.frame(.connected(address: "192.0.2.1:443")))
        let channel = try r.get()
        defer { channel.close(promise: nil) }
        #expect(channel.isActive)
        // Paused until whatever runs over it (TLS) is in place, so no byte reaches nobody.
        #expect(try await channel.getOption(ChannelOptions.autoRead) == false)
    }

    @Test func bytesBeforeTheStreamAreTheHostsAndRefused() async throws {
        #expect(Self.code(try await Self.dial(answer: Self.frame(.connected(address: "x")) + Array("HTTP/1.1 200 OK\r\n".utf8))) == "protocol")
    }

    @Test func aRefusalKeepsTheHostsCodeAndAnythingElseIsAProtocolError() async throws {
        #expect(Self.code(try await Self.dial(answer: Self.frame(.close(code: "egressRefused", reason: "not listed")))) == "egressRefused")
        #expect(Self.code(try await Self.dial(answer: Self.frame(.heartbeat(sequence: 1, time: 1)))) == "protocol")
    }

    @Test func theEnclavesOwnAllowlistComesFirst() async throws {
        #expect(Self.code(try await Self.dial(answer: [], allow: ["other.example:443"])) == "egressRefused")
    }
}
