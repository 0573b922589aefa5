import COpenSSL
import NitroAttestation

/// An EC P-384 key pair in libcrypto, for the emulated certificate hierarchy and document signatures.
public final class P384Key: @unchecked Sendable {
    // Never mutated after init; libcrypto signing with a shared EVP_PKEY is thread-safe.
    let pointer: OpaquePointer

    init(pointer: OpaquePointer) { self.pointer = pointer }
    deinit { EVP_PKEY_free(pointer) }

    /// A fresh key from libcrypto's random generator.
    public static func generate() throws(NSMError) -> P384Key {
        guard let key = cloister_generate_p384() else { throw NSMError(.internalError, "P-384 key generation failed") }
        return P384Key(pointer: key)
    }

    /// Reads a PEM private key (PKCS#8 or traditional); it must be P-384.
    public static func fromPEM(_ pem: [UInt8]) throws(NSMError) -> P384Key {
        let key = PEMKeys.read(pem)
        guard let key else { throw NSMError(.internalError, "not a PEM private key") }
        let wrapped = P384Key(pointer: key)
        guard wrapped.isP384 else { throw NSMError(.internalError, "the key is not EC P-384") }
        return wrapped
    }

    var isP384: Bool {
        guard EVP_PKEY_get_base_id(pointer) == EVP_PKEY_EC else { return false }
        var name = [CChar](repeating: 0, count: 32)
        var length = 0
        return EVP_PKEY_get_group_name(pointer, &name, name.count, &length) == 1
            && String(decoding: name.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self) == "secp384r1"
    }

    /// The private key as PKCS#8 PEM.
    public func privateKeyPEM() throws(NSMError) -> [UInt8] { try PEMKeys.write(pointer) }

    /// The public key as DER SubjectPublicKeyInfo.
    public var publicKeyDER: [UInt8] { X509Certificate.subjectPublicKeyInfo(pointer) }

    /// An ES384 signature over `message`: raw r ‖ s, 48 bytes each, as COSE carries it.
    public func signES384(_ message: [UInt8]) throws(NSMError) -> [UInt8] {
        let digest = SHA.sha384(message)
        guard let context = EVP_PKEY_CTX_new(pointer, nil) else { throw NSMError(.internalError, "EVP_PKEY_CTX_new") }
        defer { EVP_PKEY_CTX_free(context) }
        var length = 0
        guard EVP_PKEY_sign_init(context) == 1, EVP_PKEY_sign(context, nil, &length, digest, digest.count) == 1 else {
            throw NSMError(.internalError, "EVP_PKEY_sign_init")
        }
        var der = [UInt8](repeating: 0, count: length)
        guard EVP_PKEY_sign(context, &der, &length, digest, digest.count) == 1 else { throw NSMError(.internalError, "EVP_PKEY_sign") }
        let sig: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_ECDSA_SIG(nil, &cursor, length)
        }
        guard let sig else { throw NSMError(.internalError, "d2i_ECDSA_SIG") }
        defer { ECDSA_SIG_free(sig) }
        var raw = [UInt8](repeating: 0, count: 96)
        guard let r = ECDSA_SIG_get0_r(sig), let s = ECDSA_SIG_get0_s(sig),
            raw.withUnsafeMutableBufferPointer({ BN_bn2binpad(r, $0.baseAddress, 48) == 48 && BN_bn2binpad(s, $0.baseAddress! + 48, 48) == 48 })
        else { throw NSMError(.internalError, "ECDSA signature parts") }
        return raw
    }
}
