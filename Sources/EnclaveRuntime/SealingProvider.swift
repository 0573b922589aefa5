import EnclaveWire
import Logging
import NIOCore
import NitroAttestation
import SecureModule
import VsockBridge

/// Wraps and unwraps the enclave's master secret. It never makes one: the enclave makes its master inside and
/// only asks a provider to seal it: AWS KMS with a key policy on the enclave's PCRs (in emulation, the emulated KMS,
/// same protocol). The secret reaches the enclave only encrypted to a key that a fresh attestation document of
/// this enclave carries.
public protocol SealingProvider: Sendable {
    /// The provider's name, recorded in the genesis (`emulated`, `kms`).
    var name: String { get }
    /// A sealed blob of `secret` (which the host keeps), bound to `context` (KMS's encryption context).
    func seal(_ secret: [UInt8], context: [String: String]) async throws -> [UInt8]
    /// The secret in `sealed`, released only to an enclave meeting the provider's policy; `context` must be the
    /// one it was sealed with.
    func unseal(_ sealed: [UInt8], context: [String: String], recipient: SealingRecipient) async throws -> [UInt8]
}

/// Why the sealing provider refused (its code: `kms.accessDenied`, `kms.notFound`, `credentialsUnavailable`...).
public struct SealingRefusal: Error, Sendable, CustomStringConvertible {
    public let code: String
    public let reason: String
    public init(code: String, reason: String) {
        self.code = code
        self.reason = reason
    }
    public var description: String { "sealing refused (\(code)): \(reason)" }
}

/// The enclave as a recipient of a sealed secret: each request gets a fresh attestation document carrying a fresh
/// public key and no identity key, so that it can never pass for an identity document.
public struct SealingRecipient: Sendable {
    public let module: any SecureModule
    public let manifestHash: [UInt8]

    public init(module: any SecureModule, manifestHash: [UInt8]) {
        self.module = module
        self.manifestHash = manifestHash
    }

    /// A fresh document with `nonce` and `publicKey` in its `public_key` (KMS's recipient key); its `user_data`
    /// names the manifest and carries a fresh X25519 key (the HPKE key a recovery seals the master to), whose
    /// private half comes back with it.
    public func attest(nonce: [UInt8], publicKey: [UInt8]? = nil) async throws -> (document: [UInt8], key: X25519Key) {
        let key = try X25519Key.generate()
        let claims = IdentityClaims(hpkePublicKey: key.publicKey, manifestHash: manifestHash)
        return (try await module.attestation(userData: claims.encoded, nonce: nonce, publicKey: publicKey), key)
    }
}
