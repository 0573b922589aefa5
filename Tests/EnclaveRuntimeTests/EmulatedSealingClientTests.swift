import EnclaveWire
import Foundation
import Logging
import NIOCore
import NIOPosix
import NitroAttestation
import SecureModule
import Testing
import VsockBridge

@testable import EnclaveRuntime

/// A host that answers the sealing channel itself, with a service key of its own: the enclave would seal its master
/// to the host. The client refuses any key the emulated root did not certify.
@Suite struct EmulatedSealingClientTests {
    /// Answers `describe` with `key` and `signature`, and anything else with a refusal.
    final class ImpostorService: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = WireMessage
        let key: [UInt8]
        let signature: [UInt8]
        init(key: [UInt8], signature: [UInt8]) {
            self.key = key
            self.signature = signature
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .data(let bytes) = unwrapInboundIn(data), let message = try? SealingMessage(encoded: bytes) else { return }
            let answer: SealingMessage
            switch message {
            case .describe(let id): answer = .serviceKey(id: id, key: key, signature: signature)
            case .seal(let id, _, _, _): answer = .sealed(id: id, sealed: [1, 2, 3])
            default: answer = .refused(id: 0, code: "protocol", reason: "test")
            }
            context.writeAndFlush(NIOAny(WireMessage.data(answer.encoded)), promise: nil)
        }
    }

    static func client(answering key: [UInt8], signature: [UInt8], root: EmulatedRoot) async throws -> (EmulatedSealingClient, BridgeServer) {
        var configuration = BridgeServer.Configuration(
            address: .tcp(host: "127.0.0.1", port: 0), egress: .init(allowlist: try EgressAllowlist([]), resolver: SystemResolver()))
        configuration.services[.sealing] = { ImpostorService(key: key, signature: signature) }
        let server = BridgeServer(
            configuration: configuration, group: MultiThreadedEventLoopGroup.singleton, pool: IngressPool(), logger: Logger(label: "test"),
            onControl: { _ in }, onLog: { _ in })
        let port = try #require(try await server.start())
        let client = EmulatedSealingClient(
            bridge: .tcp(host: "127.0.0.1", port: port), root: try ES384PublicKey(spki: root.certificate.publicKeyDER),
            maxFrameSize: WireFrame.defaultMaxFrameSize, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"),
            timeout: .seconds(120))
        client.start()
        return (client, server)
    }

    static func refusal(_ body: () async throws -> Any) async -> String? {
        do {
            _ = try await body()
            return nil
        } catch { return (error as? SealingRefusal)?.code ?? "\(error)" }
    }

    @Test func aServiceKeyTheEmulatedRootDidNotCertifyIsRefused() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-impostor-\(UUID().uuidString)").path
        let root = try EmulatedRoot.create(directory: directory + "/ours")
        let stranger = try EmulatedRoot.create(directory: directory + "/theirs")
        let hostKey = try X25519Key.generate().publicKey
        let cases: [(String, [UInt8])] = [
            ("no signature", Array(repeating: 0, count: 96)),
            ("another root's signature", try stranger.certify(SealingMessage.keyStatement(hostKey))),
            ("our root's signature over another key", try root.certify(SealingMessage.keyStatement(Random.bytes(32)))),
        ]
        for (what, signature) in cases {
            let (client, server) = try await Self.client(answering: hostKey, signature: signature, root: root)
            let refusal = await Self.refusal { try await client.seal(Random.bytes(32), context: DeploymentGenesis.context) }
            #expect(refusal == "serviceKeyUntrusted", "\(what): \(refusal ?? "accepted")")
            client.stop()
            await server.stop()
        }
        // The real certification of that key is accepted (the seal then reaches the service).
        let (client, server) = try await Self.client(answering: hostKey, signature: try root.certify(SealingMessage.keyStatement(hostKey)), root: root)
        #expect(try await client.seal(Random.bytes(32), context: DeploymentGenesis.context) == [1, 2, 3])
        client.stop()
        await server.stop()
    }
}
