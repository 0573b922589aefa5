import COpenSSL
import NitroAttestation

/// An RSA public key an envelope is sealed to, read from the DER SubjectPublicKeyInfo an attestation document's
/// `public_key` carries.
final class RecipientPublicKey {
    /// The RSA modulus sizes accepted, in bits: KMS's recipients are RSA-2048 to RSA-4096.
    static let modulusBits = 2048...4096

    private let pointer: OpaquePointer

    /// The SubjectPublicKeyInfo as given (and as libcrypto writes it back).
    let subjectPublicKeyInfo: [UInt8]

    /// The SubjectPublicKeyInfo in `der`, refused unless it is exactly one DER RSA key of 2048 to 4096 bits.
    init(subjectPublicKeyInfo der: [UInt8]) throws(EmulatedKMSError) {
        let key: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_PUBKEY(nil, &cursor, buffer.count)
        }
        ERR_clear_error()
        guard let key else { throw EmulatedKMSError(.recipientKeyMalformed, "not a DER SubjectPublicKeyInfo") }
        pointer = key
        subjectPublicKeyInfo = der
        // The identifier is the hash of these bytes, so they must be the one DER encoding the recipient hashes too;
        // comparing with libcrypto's own encoding also refuses bytes after the key.
        guard X509Certificate.subjectPublicKeyInfo(key) == der else {
            throw EmulatedKMSError(.recipientKeyMalformed, "the SubjectPublicKeyInfo is not exactly one DER encoding")
        }
        guard EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA else {
            throw EmulatedKMSError(.recipientKeyType, "the recipient key is not an RSA (rsaEncryption) key")
        }
        let bits = Int(EVP_PKEY_get_bits(key))
        guard Self.modulusBits.contains(bits) else {
            throw EmulatedKMSError(.recipientKeySize, "a \(bits)-bit RSA key is outside \(Self.modulusBits)")
        }
    }

    deinit { EVP_PKEY_free(pointer) }

    /// `message` encrypted with RSAES-OAEP (RFC 8017 7.1), SHA-256, MGF1 with SHA-256 and the empty label.
    func encryptOAEPSHA256(_ message: [UInt8]) throws(EmulatedKMSError) -> [UInt8] {
        guard let context = EVP_PKEY_CTX_new(pointer, nil) else {
            throw EmulatedKMSError(.internalError, "EVP_PKEY_CTX_new")
        }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_encrypt_init(context) == 1,
            EVP_PKEY_CTX_set_rsa_padding(context, RSA_PKCS1_OAEP_PADDING) == 1,
            EVP_PKEY_CTX_set_rsa_oaep_md(context, EVP_sha256()) == 1,
            EVP_PKEY_CTX_set_rsa_mgf1_md(context, EVP_sha256()) == 1
        else {
            ERR_clear_error()
            throw EmulatedKMSError(.internalError, "libcrypto refused RSAES-OAEP with SHA-256")
        }
        // RSAES-OAEP's output is exactly as long as the modulus.
        var length = Int(EVP_PKEY_get_size(pointer))
        var out = [UInt8](repeating: 0, count: length)
        guard EVP_PKEY_encrypt(context, &out, &length, message, message.count) == 1 else {
            ERR_clear_error()
            throw EmulatedKMSError(.internalError, "EVP_PKEY_encrypt")
        }
        return Array(out.prefix(length))
    }
}
