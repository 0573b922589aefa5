import EnclaveWire
import NitroAttestation
import SecureModule

/// Who this enclave is for one boot: an identity signing key (P-384) and an HPKE key (X25519), both created
/// inside and never exported, and the boot attestation document that binds them (`public_key` = the identity
/// key, `user_data` = the HPKE key, the manifest hash and, where the enclave holds a master secret, the
/// deployment's commitment). Fresh documents for clients carry the same binding, the boot document's hash and the
/// client's nonce.
public final class EnclaveIdentity: Sendable {
    public let module: any SecureModule
    let signingKey: P384Key
    let hpkeKey: X25519Key
    /// The claims of fresh documents (the boot's claims and the boot document's hash).
    public let claims: IdentityClaims
    /// The boot attestation document, as the secure module returned it.
    public let bootDocument: [UInt8]
    /// SHA-256 of `bootDocument`: the `boot` of every receipt and seal of this boot.
    public let bootHash: [UInt8]

    /// Creates the keys and takes the boot attestation; `deployment` is the commitment of the master secret this
    /// boot holds, if any; `bridge`, the credential whose key this boot's connections to the host were proven with
    /// (its key becomes the identity key, so the host can tell which boot its queue connection belongs to).
    public static func create(
        module: any SecureModule, manifestBytes: [UInt8], deployment: [UInt8]? = nil, bridge: BridgeCredential? = nil
    ) async throws -> EnclaveIdentity {
        let signing = try bridge?.signingKey ?? P384Key.generate()
        let hpke = try X25519Key.generate()
        let claims = IdentityClaims(hpkePublicKey: hpke.publicKey, manifestHash: SHA.sha256(manifestBytes), deployment: deployment)
        let document = try await module.attestation(userData: claims.encoded, nonce: nil, publicKey: signing.publicKeyDER)
        return EnclaveIdentity(module: module, signingKey: signing, hpkeKey: hpke, bootClaims: claims, bootDocument: document)
    }

    init(module: any SecureModule, signingKey: P384Key, hpkeKey: X25519Key, bootClaims: IdentityClaims, bootDocument: [UInt8]) {
        self.module = module
        self.signingKey = signingKey
        self.hpkeKey = hpkeKey
        self.bootDocument = bootDocument
        self.bootHash = SHA.sha256(bootDocument)
        var fresh = bootClaims
        fresh.boot = bootHash
        self.claims = fresh
    }

    /// The identity key as DER SubjectPublicKeyInfo.
    public var publicKeyDER: [UInt8] { signingKey.publicKeyDER }

    /// A fresh document with the client's nonce and this boot's binding.
    public func attest(nonce: [UInt8]) async throws -> [UInt8] {
        try await module.attestation(userData: claims.encoded, nonce: nonce, publicKey: signingKey.publicKeyDER)
    }

    /// The deployment's commitment this boot holds (nil without a master secret).
    public var deployment: [UInt8]? { claims.deployment }

    /// Opens a request sealed to this boot's HPKE key (`SealedRequest`) with `info`.
    public func openRequest(_ request: SealedRequest, info: [UInt8]) throws -> [UInt8] {
        try HPKEX25519.open(request.ciphertext, enc: request.enc, with: hpkeKey, info: info)
    }

    /// A COSE_Sign1 (ES384, tagged) over `payload` by the identity key.
    func sign(payload: [UInt8]) throws -> [UInt8] {
        let signature = try signingKey.signES384(COSESign1.signedBytes(protectedHeader: Seal.protectedHeader, payload: payload))
        return COSESign1.encode(protectedHeader: Seal.protectedHeader, payload: payload, signature: signature)
    }
}
