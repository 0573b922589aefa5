import COpenSSL

/// AES-256 in CBC mode with PKCS#7 padding (RFC 5652 6.3), the content encryption of KMS's envelopes.
enum AES256CBC {
    static let keySize = 32
    static let ivSize = 16

    /// `plaintext` encrypted under `key` with `iv`, padded to whole blocks.
    static func encrypt(_ plaintext: [UInt8], key: [UInt8], iv: [UInt8]) throws(EmulatedKMSError) -> [UInt8] {
        precondition(key.count == keySize && iv.count == ivSize, "AES-256-CBC takes a 32-byte key and a 16-byte IV")
        guard let context = EVP_CIPHER_CTX_new() else { throw EmulatedKMSError(.internalError, "EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(context) }
        var out = [UInt8](repeating: 0, count: plaintext.count + ivSize)
        var written: Int32 = 0
        var final: Int32 = 0
        let ok = out.withUnsafeMutableBufferPointer { buffer in
            EVP_EncryptInit_ex(context, EVP_aes_256_cbc(), nil, key, iv) == 1
                && EVP_EncryptUpdate(context, buffer.baseAddress, &written, plaintext, Int32(plaintext.count)) == 1
                && EVP_EncryptFinal_ex(context, buffer.baseAddress.map { $0 + Int(written) }, &final) == 1
        }
        guard ok else {
            ERR_clear_error()
            throw EmulatedKMSError(.internalError, "libcrypto AES-256-CBC encryption failed")
        }
        return Array(out.prefix(Int(written + final)))
    }
}
