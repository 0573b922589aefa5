import COpenSSL
import NitroAttestation
import SecureModule

#if canImport(Glibc)
import Glibc
#endif

/// The key types the service holds. Asymmetric keys sign and verify; `aes256-gcm` keys (256-bit AES keys) encrypt
/// with XAES-256-GCM and decrypt that and the earlier AES-256-GCM format (`DataCiphertext`).
public enum KeyType: String, Sendable, CaseIterable {
    case ecdsaP256 = "ecdsa-p256"
    case ecdsaP384 = "ecdsa-p384"
    case ed25519 = "ed25519"
    case aes256GCM = "aes256-gcm"

    public var signs: Bool { self != .aes256GCM }

    /// The digest length a prehashed input must have (ECDSA only).
    var digestLength: Int? {
        switch self {
        case .ecdsaP256: 32
        case .ecdsaP384: 48
        default: nil
        }
    }

    var digest: OpaquePointer? {
        switch self {
        case .ecdsaP256: EVP_sha256()
        case .ecdsaP384: EVP_sha384()
        default: nil
        }
    }

    /// New key material: the private key as DER (SEC1 or PKCS#8, as libcrypto writes it), or 32 random bytes.
    func generate() throws(KeyServiceError) -> [UInt8] {
        switch self {
        case .aes256GCM:
            return Random.bytes(32)
        case .ecdsaP256, .ecdsaP384, .ed25519:
            let key: OpaquePointer?
            switch self {
            case .ecdsaP256: key = cloister_generate_ec(NID_X9_62_prime256v1)
            case .ecdsaP384: key = cloister_generate_ec(NID_secp384r1)
            default: key = cloister_generate_key(EVP_PKEY_ED25519)
            }
            guard let key else { throw KeyServiceError("internal", "key generation failed") }
            defer { EVP_PKEY_free(key) }
            return PrivateKey.der(key)
        }
    }
}

/// A private key loaded from its DER, for signing and for its public key.
final class PrivateKey: @unchecked Sendable {
    // Never mutated after init; libcrypto signing with a shared EVP_PKEY is thread-safe.
    let pointer: OpaquePointer
    let type: KeyType

    init(der: [UInt8], type: KeyType) throws(KeyServiceError) {
        let key: OpaquePointer? = der.withUnsafeBufferPointer { b in
            var cursor: UnsafePointer<UInt8>? = b.baseAddress
            return d2i_AutoPrivateKey(nil, &cursor, b.count)
        }
        guard let key else {
            ERR_clear_error()
            throw KeyServiceError("keyBlobInvalid", "stored key material does not parse")
        }
        pointer = key
        self.type = type
        // Encoding a public key costs OpenSSL 3 more than a signature does: once per key, not per call.
        publicKey = X509Certificate.subjectPublicKeyInfo(key)
    }

    deinit { EVP_PKEY_free(pointer) }

    static func der(_ key: OpaquePointer) -> [UInt8] {
        let length = i2d_PrivateKey(key, nil)
        guard length > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: Int(length))
        out.withUnsafeMutableBufferPointer { b in
            var cursor: UnsafeMutablePointer<UInt8>? = b.baseAddress
            _ = i2d_PrivateKey(key, &cursor)
        }
        return out
    }

    /// DER SubjectPublicKeyInfo.
    let publicKey: [UInt8]

    /// ECDSA: a DER signature over SHA-256/384 of `input` (or over `input`, a digest, when prehashed).
    /// Ed25519: the 64-byte signature over `input` (prehashed is refused).
    func sign(_ input: [UInt8], prehashed: Bool) throws(KeyServiceError) -> [UInt8] {
        guard let ctx = EVP_MD_CTX_new() else { throw KeyServiceError("internal", "no context") }
        defer { EVP_MD_CTX_free(ctx) }
        if prehashed {
            guard let length = type.digestLength, input.count == length else {
                throw KeyServiceError("badRequest", type.digestLength == nil ? "\(type.rawValue) signs messages, not digests" : "a prehashed input is \(type.digestLength!) bytes")
            }
            guard let pctx = EVP_PKEY_CTX_new(pointer, nil) else { throw KeyServiceError("internal", "no context") }
            defer { EVP_PKEY_CTX_free(pctx) }
            var size = 0
            guard EVP_PKEY_sign_init(pctx) == 1, EVP_PKEY_sign(pctx, nil, &size, input, input.count) == 1 else { throw KeyServiceError("internal", "sign") }
            var out = [UInt8](repeating: 0, count: size)
            guard EVP_PKEY_sign(pctx, &out, &size, input, input.count) == 1 else { throw KeyServiceError("internal", "sign") }
            return Array(out.prefix(size))
        }
        var size = 0
        guard EVP_DigestSignInit(ctx, nil, type.digest, nil, pointer) == 1, EVP_DigestSign(ctx, nil, &size, input, input.count) == 1 else {
            throw KeyServiceError("internal", "sign")
        }
        var out = [UInt8](repeating: 0, count: size)
        guard EVP_DigestSign(ctx, &out, &size, input, input.count) == 1 else { throw KeyServiceError("internal", "sign") }
        return Array(out.prefix(size))
    }

    func verify(_ signature: [UInt8], input: [UInt8], prehashed: Bool) -> Bool {
        defer { ERR_clear_error() }
        if prehashed {
            guard let length = type.digestLength, input.count == length, let pctx = EVP_PKEY_CTX_new(pointer, nil) else { return false }
            defer { EVP_PKEY_CTX_free(pctx) }
            return EVP_PKEY_verify_init(pctx) == 1 && EVP_PKEY_verify(pctx, signature, signature.count, input, input.count) == 1
        }
        guard let ctx = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(ctx) }
        return EVP_DigestVerifyInit(ctx, nil, type.digest, nil, pointer) == 1
            && EVP_DigestVerify(ctx, signature, signature.count, input, input.count) == 1
    }
}

/// Why a key operation failed: a stable code (the signed status) and a message.
public struct KeyServiceError: Error, Sendable, Hashable, CustomStringConvertible {
    public let code: String
    public let message: String
    public init(_ code: String, _ message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { "\(code): \(message)" }
}
