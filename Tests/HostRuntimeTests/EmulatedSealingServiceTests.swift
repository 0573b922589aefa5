import CBOR
import EnclaveWire
import Foundation
import NitroAttestation
import SecureModule
import Testing

@testable import EnclaveRuntime
@testable import HostRuntime

/// The emulated sealing service with real documents from the software secure module.
@Suite struct EmulatedSealingServiceTests {
    static let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-sealing-\(UUID().uuidString)").path
    static let root = try! EmulatedRoot.loadOrCreate(directory: directory).root
    static let build = EnclaveImage(executable: Array("enclave build 1".utf8), manifest: Array("{}".utf8))
    static let otherBuild = EnclaveImage(executable: Array("enclave build 2".utf8), manifest: Array("{}".utf8))

    static func service() throws -> EmulatedSealingService {
        try EmulatedSealingService(keyPath: directory + "/sealing-\(UUID().uuidString).key", roots: TrustedRoots(certificates: [root.certificate]))
    }

    static func identity(_ image: EnclaveImage = build, clock: @escaping @Sendable () -> Int64 = { Clock.milliseconds() }) async throws -> EnclaveIdentity {
        try await EnclaveIdentity.create(module: NSMClient(transport: try SoftwareNSM(root: root, image: image, clock: clock)), manifestBytes: [])
    }

    static func fresh(_ identity: EnclaveIdentity) async throws -> [UInt8] { try await identity.attest(nonce: [1, 2, 3]) }

    @Test func theSameBuildGetsTheSameSecretBackAndNoOtherDoes() async throws {
        let service = try Self.service()
        let first = try await Self.identity()
        let doc = try await Self.fresh(first)
        let made = try service.generate(document: doc)
        let secret = try first.openSealed(made.ciphertext, enc: made.enc, info: EmulatedSealingClient.info, document: doc)
        #expect(secret.count == 32)

        // The next boot of the same build: new keys, same PCRs.
        let next = try await Self.identity()
        let doc2 = try await Self.fresh(next)
        let released = try service.unseal(document: doc2, sealed: made.sealed)
        #expect(try next.openSealed(released.ciphertext, enc: released.enc, info: EmulatedSealingClient.info, document: doc2) == secret)
        // What was released to one document does not open for another boot's key.
        #expect(throws: (any Error).self) { try first.openSealed(released.ciphertext, enc: released.enc, info: EmulatedSealingClient.info, document: doc2) }

        let other = try await Self.identity(Self.otherBuild)
        let otherDoc = try await Self.fresh(other)
        #expect(Self.code { try service.unseal(document: otherDoc, sealed: made.sealed) } == "pcrPolicyMismatch")
    }

    @Test func alteredBlobsAndBadDocumentsAreRefusedByName() async throws {
        let service = try Self.service()
        let me = try await Self.identity()
        let made = try service.generate(document: try await Self.fresh(me))
        let doc = try await Self.fresh(me)

        var flipped = made.sealed
        flipped[flipped.count - 1] ^= 1
        #expect(Self.code { try service.unseal(document: doc, sealed: flipped) } == "sealedBlobInvalid")
        #expect(Self.code { try service.unseal(document: doc, sealed: [0xA0]) } == "sealedBlobInvalid")

        // A blob whose PCRs were rewritten to the other build's: the PCRs are its AAD, so it no longer opens.
        let other = try await Self.identity(Self.otherBuild)
        let otherDoc = try await Self.fresh(other)
        var map = try #require(try CBORDecoder.decode(made.sealed).map)
        let otherPCRs = try AttestationVerifier.parse(otherDoc).1.pcrs
        map[.text("pcrs")] = .array([0, 1, 2].map { .bytes(otherPCRs[$0]!) })
        #expect(Self.code { try service.unseal(document: otherDoc, sealed: CBOREncoder.encode(.map(map))) } == "sealedBlobInvalid")

        // Documents: another root, no HPKE key, too old.
        let strangerRoot = try EmulatedRoot.create(directory: Self.directory + "/other-\(UUID().uuidString)")
        let stranger = try await EnclaveIdentity.create(module: NSMClient(transport: try SoftwareNSM(root: strangerRoot, image: Self.build)), manifestBytes: [])
        #expect(Self.code { try service.unseal(document: stranger.bootDocument, sealed: made.sealed) } == "attestationInvalid")
        let bare = try await NSMClient(transport: try SoftwareNSM(root: Self.root, image: Self.build)).attestation(userData: nil, nonce: nil, publicKey: nil)
        #expect(Self.code { try service.generate(document: bare) } == "attestationInvalid")
        let old = try await Self.identity(clock: { Clock.milliseconds() - 600_000 })
        #expect(Self.code { try service.generate(document: old.bootDocument) } == "attestationInvalid")
    }

    static func code(_ body: () throws -> Any) -> String? {
        do {
            _ = try body()
            return nil
        } catch { return (error as? EmulatedSealingService.Refusal)?.code ?? "\(error)" }
    }
}
