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
    static let context = Array("cloister-master/1".utf8)

    static func pins(_ b: EnclaveImage) -> [Int: [UInt8]] { [0: b.measurements[0]!, 1: b.measurements[1]!, 2: b.measurements[2]!] }

    static func service(keyPath: String = directory + "/sealing-\(UUID().uuidString).key", policy: [EnclaveImage] = [build]) throws -> EmulatedSealingService {
        try EmulatedSealingService(keyPath: keyPath, root: root, policy: policy.map(pins))
    }

    static func recipient(_ image: EnclaveImage = build, root: EmulatedRoot = root, clock: @escaping @Sendable () -> Int64 = { Clock.milliseconds() }) throws -> SealingRecipient {
        SealingRecipient(module: NSMClient(transport: try SoftwareNSM(root: root, image: image, clock: clock)), manifestHash: SHA.sha256([]))
    }

    static func seal(_ service: EmulatedSealingService, _ secret: [UInt8]) throws -> [UInt8] {
        let (enc, ct) = try HPKEX25519.seal(to: service.certifiedKey.key, info: SealingMessage.sealInfo, aad: context, plaintext: secret)
        return try service.seal(context: context, enc: enc, ciphertext: ct)
    }

    static func unseal(_ service: EmulatedSealingService, _ sealed: [UInt8], _ recipient: SealingRecipient) async throws -> [UInt8] {
        let (doc, key) = try await recipient.attest(nonce: [1, 2, 3])
        let released = try service.unseal(document: doc, sealed: sealed)
        return try SealingRecipient.open(released.ciphertext, enc: released.enc, key: key, document: doc)
    }

    @Test func itSealsWhatItIsGivenAndReleasesItOnlyToAuthorisedBuilds() async throws {
        let service = try Self.service()
        let secret = Random.bytes(32)
        let sealed = try Self.seal(service, secret)
        #expect(!EmulatedSealingServiceTests.contains(sealed, secret))
        #expect(try await Self.unseal(service, sealed, try Self.recipient()) == secret)
        // Another build is refused by the key policy, naming its PCRs; listing it authorises it (an upgrade).
        do {
            _ = try await Self.unseal(service, sealed, try Self.recipient(Self.otherBuild))
            Issue.record("an unauthorised build got the secret")
        } catch let e as EmulatedSealingService.Refusal {
            #expect(e.code == "pcrPolicyMismatch")
            #expect(e.reason.contains("PCR0 \(Hex.encode(Self.otherBuild.measurements[0]!).prefix(16))"))
        }
        let upgraded = try Self.service(keyPath: Self.directory + "/shared.key", policy: [Self.build, Self.otherBuild])
        let blob = try Self.seal(upgraded, secret)
        #expect(try await Self.unseal(upgraded, blob, try Self.recipient(Self.otherBuild)) == secret)
        // The same key file later, with the old build only: the blob still opens for it (the key, not the blob, holds the policy).
        let again = try Self.service(keyPath: Self.directory + "/shared.key", policy: [Self.build])
        #expect(try await Self.unseal(again, blob, try Self.recipient()) == secret)
    }

    @Test func itsKeyIsCertifiedByTheEmulatedRoot() throws {
        let service = try Self.service()
        let (key, signature) = service.certifiedKey
        let rootKey = try ES384PublicKey(spki: Self.root.certificate.publicKeyDER)
        #expect(rootKey.verify(signature: signature, message: SealingMessage.keyStatement(key)))
        #expect(!rootKey.verify(signature: signature, message: SealingMessage.keyStatement(Random.bytes(32))))
    }

    @Test func alteredBlobsBadRequestsAndBadDocumentsAreRefusedByName() async throws {
        let service = try Self.service()
        let sealed = try Self.seal(service, Random.bytes(32))
        let me = try Self.recipient()

        var flipped = sealed
        flipped[flipped.count - 1] ^= 1
        #expect(await Self.code { try await Self.unseal(service, flipped, me) } == "sealedBlobInvalid")
        #expect(await Self.code { try await Self.unseal(service, [0xA0], me) } == "sealedBlobInvalid")
        // The context is the blob's associated data: a blob relabelled for another context no longer opens.
        var map = try #require(try CBORDecoder.decode(sealed).map)
        map[.text("ctx")] = .bytes(Array("another deployment".utf8))
        #expect(await Self.code { try await Self.unseal(service, CBOREncoder.encode(.map(map)), me) } == "sealedBlobInvalid")
        // A blob of another service key (another machine's emulated KMS).
        #expect(await Self.code { try await Self.unseal(service, try Self.seal(try Self.service(), [1]), me) } == "sealedBlobInvalid")

        // Seal requests that are not encrypted to this service, or for another context.
        let (enc, ct) = try HPKEX25519.seal(to: X25519Key.generate().publicKey, info: SealingMessage.sealInfo, aad: Self.context, plaintext: [1])
        #expect(Self.syncCode { try service.seal(context: Self.context, enc: enc, ciphertext: ct) } == "sealRequestInvalid")
        let (enc2, ct2) = try HPKEX25519.seal(to: service.certifiedKey.key, info: SealingMessage.sealInfo, aad: Self.context, plaintext: [1])
        #expect(Self.syncCode { try service.seal(context: Array("other".utf8), enc: enc2, ciphertext: ct2) } == "sealRequestInvalid")
        let (enc3, ct3) = try HPKEX25519.seal(to: service.certifiedKey.key, info: SealingMessage.sealInfo, aad: Self.context, plaintext: Random.bytes(65))
        #expect(Self.syncCode { try service.seal(context: Self.context, enc: enc3, ciphertext: ct3) } == "sealRequestInvalid")

        // Documents: another root, no HPKE key, too old.
        let strangerRoot = try EmulatedRoot.create(directory: Self.directory + "/other-\(UUID().uuidString)")
        #expect(await Self.code { try await Self.unseal(service, sealed, try Self.recipient(root: strangerRoot)) } == "attestationInvalid")
        let bare = try await NSMClient(transport: try SoftwareNSM(root: Self.root, image: Self.build)).attestation(userData: nil, nonce: nil, publicKey: nil)
        #expect(Self.syncCode { try service.unseal(document: bare, sealed: sealed) } == "attestationInvalid")
        #expect(await Self.code { try await Self.unseal(service, sealed, try Self.recipient(clock: { Clock.milliseconds() - 600_000 })) } == "attestationInvalid")
    }

    static func code(_ body: () async throws -> Any) async -> String? {
        do {
            _ = try await body()
            return nil
        } catch { return (error as? EmulatedSealingService.Refusal)?.code ?? "\(error)" }
    }

    static func syncCode(_ body: () throws -> Any) -> String? {
        do {
            _ = try body()
            return nil
        } catch { return (error as? EmulatedSealingService.Refusal)?.code ?? "\(error)" }
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        haystack.count >= needle.count && (0...(haystack.count - needle.count)).contains { Array(haystack[$0..<$0 + needle.count]) == needle }
    }
}
