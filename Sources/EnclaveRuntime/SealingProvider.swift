import EnclaveWire
import Logging
import NIOCore
import NitroAttestation
import SecureModule
import VsockBridge

/// Wraps and unwraps the enclave's master secret. It never makes one: the enclave makes its master inside and
/// only asks a provider to seal it. On Nitro this is AWS KMS with a key policy on the enclave's PCRs; in
/// emulation, the host's emulated sealing service with the same kind of policy. Either way the secret reaches
/// the enclave only encrypted to a key that a fresh attestation document of this enclave carries.
public protocol SealingProvider: Sendable {
    /// The provider's name, recorded in the genesis (`emulated`, `kms`).
    var name: String { get }
    /// A sealed blob of `secret` (which the host keeps), bound to `context`.
    func seal(_ secret: [UInt8], context: [UInt8]) async throws -> [UInt8]
    /// The secret in `sealed`, released only to an enclave meeting the provider's policy.
    func unseal(_ sealed: [UInt8], recipient: SealingRecipient) async throws -> [UInt8]
}

/// Why the sealing service refused (its code: `pcrPolicyMismatch`, `attestationInvalid`, `sealedBlobInvalid`...).
public struct SealingRefusal: Error, Sendable, CustomStringConvertible {
    public let code: String
    public let reason: String
    public init(code: String, reason: String) {
        self.code = code
        self.reason = reason
    }
    public var description: String { "sealing refused (\(code)): \(reason)" }
}

/// The enclave as a recipient of a sealed secret: each request gets a fresh attestation document carrying a
/// fresh X25519 key (in `user_data`, as `IdentityClaims`) and no identity key, so that it can never pass for an
/// identity document.
public struct SealingRecipient: Sendable {
    public let module: any SecureModule
    public let manifestHash: [UInt8]

    public init(module: any SecureModule, manifestHash: [UInt8]) {
        self.module = module
        self.manifestHash = manifestHash
    }

    /// A fresh document with `nonce`, and the private key of the X25519 key it carries.
    public func attest(nonce: [UInt8]) async throws -> (document: [UInt8], key: X25519Key) {
        let key = try X25519Key.generate()
        let claims = IdentityClaims(hpkePublicKey: key.publicKey, manifestHash: manifestHash)
        return (try await module.attestation(userData: claims.encoded, nonce: nonce, publicKey: nil), key)
    }

    /// Opens what a sealing service encrypted to `key` for `document`.
    public static func open(_ ciphertext: [UInt8], enc: [UInt8], key: X25519Key, document: [UInt8]) throws -> [UInt8] {
        try HPKEX25519.open(ciphertext, enc: enc, with: key, info: SealingMessage.releaseInfo, aad: SHA.sha256(document))
    }
}

/// The emulated provider: the host's sealing service over the bridge's `sealing` channel. The service's key is
/// trusted only with the emulated root's signature, so a host that answers with a key of its own learns nothing.
public final class EmulatedSealingClient: SealingProvider {
    private let link: NumberedLink<SealingMessage>
    private let root: ES384PublicKey
    public let name = "emulated"

    /// `root`: the emulated root, whose signature certifies the service's key. `timeout`: how long one request
    /// (dialing included) may take.
    public init(
        bridge: BridgeAddress, root: ES384PublicKey, maxFrameSize: Int, group: EventLoopGroup, logger: Logger,
        timeout: TimeAmount = .seconds(10)
    ) {
        self.root = root
        link = NumberedLink(
            channel: .sealing, bridge: bridge, maxFrameSize: maxFrameSize, group: group, logger: logger, timeout: timeout,
            decode: { bytes in
                switch try? SealingMessage(encoded: bytes) {
                case let m? where m.answerID != nil: (m.answerID!, m)
                default: nil
                }
            })
    }

    public func start() { link.start() }
    public func stop() { link.stop() }

    /// The service's X25519 key, once the emulated root's signature over it verifies.
    public func serviceKey() async throws -> [UInt8] {
        switch try await link.request({ SealingMessage.describe(id: $0).encoded }) {
        case .serviceKey(_, let key, let signature):
            guard root.verify(signature: signature, message: SealingMessage.keyStatement(key)) else {
                throw SealingRefusal(code: "serviceKeyUntrusted", reason: "the sealing service's key is not certified by the emulated root")
            }
            return key
        case .refused(_, let code, let reason): throw SealingRefusal(code: code, reason: reason)
        default: throw SealingRefusal(code: "protocol", reason: "unexpected answer")
        }
    }

    public func seal(_ secret: [UInt8], context: [UInt8]) async throws -> [UInt8] {
        let key = try await serviceKey()
        let (enc, ciphertext) = try HPKEX25519.seal(to: key, info: SealingMessage.sealInfo, aad: context, plaintext: secret)
        switch try await link.request({ SealingMessage.seal(id: $0, context: context, enc: enc, ciphertext: ciphertext).encoded }) {
        case .sealed(_, let sealed): return sealed
        case .refused(_, let code, let reason): throw SealingRefusal(code: code, reason: reason)
        default: throw SealingRefusal(code: "protocol", reason: "unexpected answer")
        }
    }

    public func unseal(_ sealed: [UInt8], recipient: SealingRecipient) async throws -> [UInt8] {
        let (document, key) = try await recipient.attest(nonce: Random.bytes(32))
        switch try await link.request({ SealingMessage.unseal(id: $0, document: document, sealed: sealed).encoded }) {
        case .released(_, let enc, let ciphertext): return try SealingRecipient.open(ciphertext, enc: enc, key: key, document: document)
        case .refused(_, let code, let reason): throw SealingRefusal(code: code, reason: reason)
        default: throw SealingRefusal(code: "protocol", reason: "unexpected answer")
        }
    }
}
