import COpenSSL

/// ECDSA P-384 with SHA-384 over raw r || s signatures, as COSE ES384 carries them.
enum ES384 {
    /// Whether `signature` (96 bytes, r || s) over `message` verifies with `key` (an EC P-384 EVP_PKEY).
    /// High-S signatures are valid: ECDSA does not forbid them, and Nitro emits them.
    static func verify(signature: [UInt8], message: [UInt8], key: OpaquePointer) -> Bool {
        guard signature.count == 96 else { return false }
        let digest = SHA.sha384(message)
        guard let der = derSignature(signature), let context = EVP_PKEY_CTX_new(key, nil) else {
            ERR_clear_error()
            return false
        }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_verify_init(context) == 1 else {
            ERR_clear_error()
            return false
        }
        let ok = EVP_PKEY_verify(context, der, der.count, digest, digest.count) == 1
        ERR_clear_error()
        return ok
    }

    /// The DER ECDSA-Sig-Value for raw r || s (leading zero bytes in r or s are fine).
    static func derSignature(_ raw: [UInt8]) -> [UInt8]? {
        guard let sig = ECDSA_SIG_new() else { return nil }
        defer { ECDSA_SIG_free(sig) }
        let r = raw.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, 48, nil) }
        let s = raw.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress! + 48, 48, nil) }
        guard let r, let s else {
            BN_free(r)
            BN_free(s)
            return nil
        }
        guard ECDSA_SIG_set0(sig, r, s) == 1 else {
            BN_free(r)
            BN_free(s)
            return nil
        }
        let length = i2d_ECDSA_SIG(sig, nil)
        guard length > 0 else { return nil }
        var der = [UInt8](repeating: 0, count: Int(length))
        der.withUnsafeMutableBufferPointer { out in
            var cursor: UnsafeMutablePointer<UInt8>? = out.baseAddress
            _ = i2d_ECDSA_SIG(sig, &cursor)
        }
        return der
    }
}
