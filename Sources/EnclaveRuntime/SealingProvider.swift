#if canImport(Glibc)
import Glibc
#endif
import EnclaveWire
import Logging
import NIOCore
import NitroAttestation
import SecureModule
import VsockBridge

/// Seals the enclave's master secret to its measurements. On Nitro this is AWS KMS with a key policy on the
/// enclave's PCRs; in emulation, the host's emulated sealing service with the same policy. Either way the secret
/// reaches the enclave only encrypted to the HPKE key its fresh attestation document carries.
public protocol SealingProvider: Sendable {
    /// A new secret and its sealed blob (which the host keeps).
    func generate(identity: EnclaveIdentity) async throws -> (secret: [UInt8], sealed: [UInt8])
    /// The secret in `sealed`, released only to an enclave meeting the policy it was sealed under.
    func unseal(_ sealed: [UInt8], identity: EnclaveIdentity) async throws -> [UInt8]
}

/// Why the sealing service refused (its code: `pcrPolicyMismatch`, `attestationInvalid`, `sealedBlobInvalid`...).
public struct SealingRefusal: Error, Sendable, CustomStringConvertible {
    public let code: String
    public let reason: String
    public var description: String { "sealing refused (\(code)): \(reason)" }
}

/// The emulated provider: the host's sealing service over the bridge's `sealing` channel.
public final class EmulatedSealingClient: SealingProvider {
    private let link: NumberedLink<SealingMessage>
    static let info = Array("cloister-sealing/1".utf8)

    public init(bridge: BridgeAddress, maxFrameSize: Int, group: EventLoopGroup, logger: Logger) {
        link = NumberedLink(
            channel: .sealing, bridge: bridge, maxFrameSize: maxFrameSize, group: group, logger: logger, timeout: .seconds(10),
            decode: { bytes in
                switch try? SealingMessage(encoded: bytes) {
                case let m? where m.answerID != nil: (m.answerID!, m)
                default: nil
                }
            })
    }

    public func start() { link.start() }
    public func stop() { link.stop() }

    public func generate(identity: EnclaveIdentity) async throws -> (secret: [UInt8], sealed: [UInt8]) {
        let document = try await identity.attest(nonce: Self.nonce())
        switch try await link.request({ SealingMessage.generate(id: $0, document: document).encoded }) {
        case .generated(_, let sealed, let enc, let ciphertext):
            return (try identity.openSealed(ciphertext, enc: enc, info: Self.info, document: document), sealed)
        case .refused(_, let code, let reason): throw SealingRefusal(code: code, reason: reason)
        default: throw SealingRefusal(code: "protocol", reason: "unexpected answer")
        }
    }

    public func unseal(_ sealed: [UInt8], identity: EnclaveIdentity) async throws -> [UInt8] {
        let document = try await identity.attest(nonce: Self.nonce())
        switch try await link.request({ SealingMessage.unseal(id: $0, document: document, sealed: sealed).encoded }) {
        case .released(_, let enc, let ciphertext): return try identity.openSealed(ciphertext, enc: enc, info: Self.info, document: document)
        case .refused(_, let code, let reason): throw SealingRefusal(code: code, reason: reason)
        default: throw SealingRefusal(code: "protocol", reason: "unexpected answer")
        }
    }

    static func nonce() -> [UInt8] { Random.bytes(32) }
}

extension SealingMessage {
    var answerID: UInt64? {
        switch self {
        case .generated(let id, _, _, _), .released(let id, _, _), .refused(let id, _, _): id
        case .generate, .unseal: nil
        }
    }
}

extension EnclaveIdentity {
    /// Opens what a sealing service encrypted to this boot's HPKE key for `document`.
    func openSealed(_ ciphertext: [UInt8], enc: [UInt8], info: [UInt8], document: [UInt8]) throws -> [UInt8] {
        try HPKEX25519.open(ciphertext, enc: enc, with: hpkeKey, info: info, aad: SHA.sha256(document))
    }
}

/// The master secret of this deployment: unsealed from the blob the host keeps, or, on the very first boot,
/// generated and sealed (a lost race for the first boot unseals the winner's).
///
/// "First boot" is what the host's store says: a host that hides the sealed blob makes the enclave start a new
/// secret, and so an empty key store. That loses keys (the old blob still unseals them) but reveals none.
public enum MasterSecret {
    public static let storeKey = "master/sealed"

    public static func load(store: any BlobStore, sealing: any SealingProvider, identity: EnclaveIdentity, logger: Logger) async throws -> [UInt8] {
        for _ in 0..<5 {
            if let blob = try await store.get(storeKey) {
                let secret = try await sealing.unseal(blob.value, identity: identity)
                logger.info("master secret unsealed")
                return secret
            }
            let (secret, sealed) = try await sealing.generate(identity: identity)
            // Keep only a blob that gives this secret back: otherwise every key would be sealed under a secret
            // no later boot could recover.
            guard try await sealing.unseal(sealed, identity: identity) == secret else {
                throw SealingRefusal(code: "sealedBlobInvalid", reason: "the new secret's sealed blob does not unseal to it")
            }
            if try await store.put(storeKey, value: sealed, expectedVersion: 0).stored {
                logger.notice("first boot: a master secret was created and sealed to this build's PCRs")
                return secret
            }
        }
        throw StoreError(code: "conflict")
    }
}
