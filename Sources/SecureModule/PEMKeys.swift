import COpenSSL

/// Private keys as PEM, for the key types that are kept in files (the emulated root, program keys).
enum PEMKeys {
    /// The private key in `pem` (PKCS#8 or traditional), or nil; the caller owns it.
    static func read(_ pem: [UInt8]) -> OpaquePointer? {
        var pem = pem
        let key: OpaquePointer? = pem.withUnsafeMutableBytes { buffer in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_PrivateKey(bio, nil, nil, nil)
        }
        ERR_clear_error()
        return key
    }

    /// `key` as PKCS#8 PEM.
    static func write(_ key: OpaquePointer) throws(NSMError) -> [UInt8] {
        guard let bio = BIO_new(BIO_s_mem()) else { throw NSMError(.internalError, "BIO_new") }
        defer { BIO_free(bio) }
        guard PEM_write_bio_PrivateKey(bio, key, nil, nil, 0, nil, nil) == 1 else { throw NSMError(.internalError, "PEM_write_bio_PrivateKey") }
        var data: UnsafeMutablePointer<CChar>?
        let length = cloister_BIO_get_mem_data(bio, &data)
        guard let data, length > 0 else { throw NSMError(.internalError, "empty PEM") }
        return Array(UnsafeRawBufferPointer(start: data, count: length))
    }
}
