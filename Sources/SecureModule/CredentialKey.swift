import COpenSSL
import Synchronization
import NitroAttestation

/// A program key: the private half of a tenant credential (Ed25519 or ECDSA P-256), kept by its owner (the CLI
/// keeps it in a 0600 file as PKCS#8 PEM). It signs action digests; `CredentialVerifier` checks them from the
/// public key alone.
public final class CredentialKey: @unchecked Sendable {
    /// The kinds of program key: the same names as `Credential.Kind`.
    public enum Kind: String, Sendable, CaseIterable {
        case ed25519
        case ecdsaP256 = "ecdsa-p256"
    }

    // Never mutated after init; libcrypto signing with a shared EVP_PKEY is thread-safe.
    let pointer: OpaquePointer
    public let kind: Kind

    private init(pointer: OpaquePointer, kind: Kind) {
        self.pointer = pointer
        self.kind = kind
    }

    deinit { EVP_PKEY_free(pointer) }

    /// A fresh key.
    public static func generate(_ kind: Kind) throws(NSMError) -> CredentialKey {
        let key = kind == .ed25519 ? cloister_generate_key(EVP_PKEY_ED25519) : cloister_generate_ec(NID_X9_62_prime256v1)
        guard let key else { throw NSMError(.internalError, "\(kind.rawValue) key generation failed") }
        return CredentialKey(pointer: key, kind: kind)
    }

    /// Reads a PEM private key; it must be Ed25519 or EC P-256.
    public static func fromPEM(_ pem: [UInt8]) throws(NSMError) -> CredentialKey {
        let key = PEMKeys.read(pem)
        guard let key else { throw NSMError(.invalidArgument, "not a PEM private key") }
        guard let kind = CredentialVerifier.kind(of: key) else {
            EVP_PKEY_free(key)
            throw NSMError(.invalidArgument, "a program key is Ed25519 or ECDSA P-256")
        }
        return CredentialKey(pointer: key, kind: kind)
    }

    /// The private key as PKCS#8 PEM.
    public func privateKeyPEM() throws(NSMError) -> [UInt8] { try PEMKeys.write(pointer) }

    /// The public key as DER SubjectPublicKeyInfo (what a `Credential` carries).
    public var spki: [UInt8] { X509Certificate.subjectPublicKeyInfo(pointer) }

    /// The signature of `message`: Ed25519 (64 bytes) over it, or ECDSA P-256 over its SHA-256 (DER).
    public func sign(_ message: [UInt8]) throws(NSMError) -> [UInt8] {
        guard let ctx = EVP_MD_CTX_new() else { throw NSMError(.internalError, "no context") }
        defer { EVP_MD_CTX_free(ctx) }
        var size = 0
        guard EVP_DigestSignInit(ctx, nil, kind == .ed25519 ? nil : EVP_sha256(), nil, pointer) == 1,
            EVP_DigestSign(ctx, nil, &size, message, message.count) == 1
        else {
            ERR_clear_error()
            throw NSMError(.internalError, "sign")
        }
        var out = [UInt8](repeating: 0, count: size)
        guard EVP_DigestSign(ctx, &out, &size, message, message.count) == 1 else {
            ERR_clear_error()
            throw NSMError(.internalError, "sign")
        }
        return Array(out.prefix(size))
    }
}

/// Checks credential signatures from a DER SubjectPublicKeyInfo: Ed25519 over the message, or ECDSA P-256 (DER)
/// over its SHA-256. Anything else (another curve, another algorithm, a malformed key) never verifies.
public enum CredentialVerifier {
    /// The kind of the key in `spki`, or nil when it is no key a credential may be.
    public static func kind(spki: [UInt8]) -> CredentialKey.Kind? {
        guard let key = parse(spki) else { return nil }
        defer { EVP_PKEY_free(key) }
        return kind(of: key)
    }

    /// Whether `signature` over `message` verifies under the `kind` key in `spki`.
    public static func verify(kind: CredentialKey.Kind, spki: [UInt8], signature: [UInt8], message: [UInt8]) -> Bool {
        defer { ERR_clear_error() }
        guard let key = ParsedKeys.shared.key(spki), self.kind(of: key.pointer) == kind, !signature.isEmpty, let ctx = EVP_MD_CTX_new() else {
            return false
        }
        defer { EVP_MD_CTX_free(ctx) }
        return withExtendedLifetime(key) {
            EVP_DigestVerifyInit(ctx, nil, kind == .ed25519 ? nil : EVP_sha256(), nil, key.pointer) == 1
                && EVP_DigestVerify(ctx, signature, signature.count, message, message.count) == 1
        }
    }

    /// Public keys already parsed, by their SubjectPublicKeyInfo: a tenant's credentials verify many signatures,
    /// and libcrypto 3 parses a key far more slowly than it verifies a signature (its decoders take global locks).
    final class ParsedKeys: Sendable {
        final class Key: @unchecked Sendable {
            // Never mutated after init; verifying with a shared EVP_PKEY is thread-safe.
            let pointer: OpaquePointer
            init(_ pointer: OpaquePointer) { self.pointer = pointer }
            deinit { EVP_PKEY_free(pointer) }
        }

        static let shared = ParsedKeys()
        static let capacity = 4096
        private let keys = Mutex<[[UInt8]: Key]>([:])

        func key(_ spki: [UInt8]) -> Key? {
            if let known = keys.withLock({ $0[spki] }) { return known }
            guard let parsed = CredentialVerifier.parse(spki) else { return nil }
            let key = Key(parsed)
            keys.withLock { k in
                if k.count >= Self.capacity { k.removeAll() }
                k[spki] = key
            }
            return key
        }
    }

    static func parse(_ spki: [UInt8]) -> OpaquePointer? {
        guard !spki.isEmpty, spki.count <= 1024 else { return nil }
        let key: OpaquePointer? = spki.withUnsafeBufferPointer { b in
            var cursor: UnsafePointer<UInt8>? = b.baseAddress
            let k = d2i_PUBKEY(nil, &cursor, b.count)
            // Trailing bytes after the key are refused: one key, one encoding.
            if let k, cursor != b.baseAddress! + b.count {
                EVP_PKEY_free(k)
                return nil
            }
            return k
        }
        ERR_clear_error()
        return key
    }

    static func kind(of key: OpaquePointer) -> CredentialKey.Kind? {
        switch EVP_PKEY_get_base_id(key) {
        case EVP_PKEY_ED25519: return .ed25519
        case EVP_PKEY_EC:
            var name = [CChar](repeating: 0, count: 32)
            var length = 0
            guard EVP_PKEY_get_group_name(key, &name, name.count, &length) == 1 else { return nil }
            return String(decoding: name.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self) == "prime256v1" ? .ecdsaP256 : nil
        default: return nil
        }
    }
}
