import COpenSSL
import NitroAttestation

/// AES-GCM (128 or 256-bit keys, 12-byte nonces, 16-byte tags) and HKDF (RFC 5869) over libcrypto: the symmetric
/// pieces of key wrapping, sealing and HPKE.
public enum AESGCM {
    public static let nonceSize = 12
    public static let tagSize = 16

    /// Why an AEAD operation failed. Opening fails the same way for every forgery (wrong key, nonce, data or tag).
    public struct Error: Swift.Error, Hashable, Sendable, CustomStringConvertible {
        public let reason: String
        public var description: String { "AES-GCM: \(reason)" }

        /// What `open` throws for every forgery, so that callers can tell it from a failure of libcrypto itself.
        public static let authenticationFailed = Error(reason: "authentication failed")
    }

    /// `ciphertext ‖ tag` of `plaintext` under `key` (16 or 32 bytes) and `nonce` (12 bytes), authenticating `aad`.
    public static func seal(_ plaintext: [UInt8], key: [UInt8], nonce: [UInt8], aad: [UInt8] = []) throws(Error) -> [UInt8] {
        guard nonce.count == nonceSize, let cipher = cipher(key) else { throw Error(reason: "key must be 16 or 32 bytes and nonce 12") }
        guard let ctx = EVP_CIPHER_CTX_new() else { throw Error(reason: "no context") }
        defer { EVP_CIPHER_CTX_free(ctx) }
        var out = [UInt8](repeating: 0, count: plaintext.count + tagSize)
        var length: Int32 = 0
        var total = 0
        let ok = key.withUnsafeBufferPointer { k in
            nonce.withUnsafeBufferPointer { n in EVP_EncryptInit_ex(ctx, cipher, nil, k.baseAddress, n.baseAddress) }
        } == 1
            && (aad.isEmpty || aad.withUnsafeBufferPointer { EVP_EncryptUpdate(ctx, nil, &length, $0.baseAddress, Int32($0.count)) } == 1)
            && (plaintext.isEmpty
                || out.withUnsafeMutableBufferPointer { o in
                    plaintext.withUnsafeBufferPointer { EVP_EncryptUpdate(ctx, o.baseAddress, &length, $0.baseAddress, Int32($0.count)) }
                } == 1)
        guard ok else { throw Error(reason: "encryption failed") }
        total = plaintext.isEmpty ? 0 : Int(length)
        guard out.withUnsafeMutableBufferPointer({ EVP_EncryptFinal_ex(ctx, $0.baseAddress! + total, &length) }) == 1 else {
            throw Error(reason: "encryption failed")
        }
        let tagOK = out.withUnsafeMutableBufferPointer {
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, Int32(tagSize), $0.baseAddress! + plaintext.count)
        }
        guard tagOK == 1 else { throw Error(reason: "no tag") }
        return out
    }

    /// The plaintext of `sealed` (`ciphertext ‖ tag`), or an error if anything was altered.
    public static func open(_ sealed: [UInt8], key: [UInt8], nonce: [UInt8], aad: [UInt8] = []) throws(Error) -> [UInt8] {
        guard nonce.count == nonceSize, let cipher = cipher(key) else { throw Error(reason: "key must be 16 or 32 bytes and nonce 12") }
        guard sealed.count >= tagSize else { throw Error(reason: "shorter than a tag") }
        guard let ctx = EVP_CIPHER_CTX_new() else { throw Error(reason: "no context") }
        defer { EVP_CIPHER_CTX_free(ctx) }
        let body = Array(sealed.prefix(sealed.count - tagSize))
        var tag = Array(sealed.suffix(tagSize))
        var out = [UInt8](repeating: 0, count: body.count + 16)
        var length: Int32 = 0
        let ok = key.withUnsafeBufferPointer { k in
            nonce.withUnsafeBufferPointer { n in EVP_DecryptInit_ex(ctx, cipher, nil, k.baseAddress, n.baseAddress) }
        } == 1
            && (aad.isEmpty || aad.withUnsafeBufferPointer { EVP_DecryptUpdate(ctx, nil, &length, $0.baseAddress, Int32($0.count)) } == 1)
            && (body.isEmpty
                || out.withUnsafeMutableBufferPointer { o in
                    body.withUnsafeBufferPointer { EVP_DecryptUpdate(ctx, o.baseAddress, &length, $0.baseAddress, Int32($0.count)) }
                } == 1)
        let written = body.isEmpty ? 0 : Int(length)
        guard ok, EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, Int32(tagSize), &tag) == 1,
            out.withUnsafeMutableBufferPointer({ EVP_DecryptFinal_ex(ctx, $0.baseAddress! + written, &length) }) == 1
        else {
            ERR_clear_error()
            throw .authenticationFailed
        }
        return Array(out.prefix(written))
    }

    // Fetched once: an implicit fetch on every use takes libcrypto's global lock (measured: the enclave's threads
    // queued on it under load).
    nonisolated(unsafe) private static let aes128 = EVP_CIPHER_fetch(nil, "AES-128-GCM", nil)
    nonisolated(unsafe) private static let aes256 = EVP_CIPHER_fetch(nil, "AES-256-GCM", nil)

    private static func cipher(_ key: [UInt8]) -> OpaquePointer? {
        switch key.count {
        case 16: return aes128
        case 32: return aes256
        default: return nil
        }
    }
}

/// HKDF (RFC 5869) with SHA-256 or SHA-384.
public enum HKDF {
    public enum Hash: Sendable {
        case sha256, sha384
        var length: Int { self == .sha256 ? 32 : 48 }
    }

    // One keyless HMAC context per digest, duplicated for each use (see `cloister_hmac_template`).
    nonisolated(unsafe) private static let sha256Template = cloister_hmac_template("SHA256")
    nonisolated(unsafe) private static let sha384Template = cloister_hmac_template("SHA384")

    public static func hmac(_ hash: Hash, key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: hash.length)
        guard let ctx = EVP_MAC_CTX_dup(hash == .sha256 ? sha256Template : sha384Template) else {
            preconditionFailure("libcrypto could not make an HMAC context")
        }
        defer { EVP_MAC_CTX_free(ctx) }
        var length = 0
        // A zero-length key is passed as one byte of storage with length 0 (HMAC pads keys with zeros anyway).
        let keyed = key.isEmpty ? [0] : key
        let ok = keyed.withUnsafeBufferPointer { k in
            EVP_MAC_init(ctx, k.baseAddress, key.count, nil) == 1
                && data.withUnsafeBufferPointer { d in EVP_MAC_update(ctx, d.baseAddress, d.count) } == 1
                && EVP_MAC_final(ctx, &out, &length, out.count) == 1
        }
        precondition(ok && length == hash.length, "HMAC failed")
        return out
    }

    public static func extract(_ hash: Hash, salt: [UInt8], ikm: [UInt8]) -> [UInt8] {
        hmac(hash, key: salt.isEmpty ? [UInt8](repeating: 0, count: hash.length) : salt, ikm)
    }

    public static func expand(_ hash: Hash, prk: [UInt8], info: [UInt8], length: Int) -> [UInt8] {
        precondition(length <= 255 * hash.length)
        var out: [UInt8] = []
        var block: [UInt8] = []
        var counter: UInt8 = 1
        while out.count < length {
            block = hmac(hash, key: prk, block + info + [counter])
            out += block
            counter += 1
        }
        return Array(out.prefix(length))
    }

    public static func derive(_ hash: Hash, ikm: [UInt8], salt: [UInt8], info: [UInt8], length: Int) -> [UInt8] {
        expand(hash, prk: extract(hash, salt: salt, ikm: ikm), info: info, length: length)
    }
}
