import COpenSSL

/// An Ed25519 signing key in libcrypto, made from a 32-byte seed (RFC 8032): the deployment key that the enclave
/// derives from its master secret. Its public key is the deployment's commitment; the seed never leaves the enclave.
public final class Ed25519Key: @unchecked Sendable {
    // Never mutated after init; libcrypto signing with a shared EVP_PKEY is thread-safe.
    let pointer: OpaquePointer

    /// The raw 32-byte public key (RFC 8032).
    public let publicKey: [UInt8]

    /// The key whose RFC 8032 private key (seed) is `seed`.
    public init(seed: [UInt8]) throws(NSMError) {
        guard seed.count == 32,
            let key = seed.withUnsafeBufferPointer({ EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, $0.baseAddress, 32) })
        else {
            ERR_clear_error()
            throw NSMError(.invalidArgument, "an Ed25519 seed is 32 bytes")
        }
        pointer = key
        var out = [UInt8](repeating: 0, count: 32)
        var length = 32
        guard EVP_PKEY_get_raw_public_key(key, &out, &length) == 1, length == 32 else {
            EVP_PKEY_free(key)
            throw NSMError(.internalError, "Ed25519 public key")
        }
        publicKey = out
    }

    deinit { EVP_PKEY_free(pointer) }

    /// The 64-byte Ed25519 signature of `message`.
    public func sign(_ message: [UInt8]) throws(NSMError) -> [UInt8] {
        guard let ctx = EVP_MD_CTX_new() else { throw NSMError(.internalError, "no context") }
        defer { EVP_MD_CTX_free(ctx) }
        var size = 64
        var out = [UInt8](repeating: 0, count: 64)
        guard EVP_DigestSignInit(ctx, nil, nil, nil, pointer) == 1, EVP_DigestSign(ctx, &out, &size, message, message.count) == 1, size == 64 else {
            ERR_clear_error()
            throw NSMError(.internalError, "Ed25519 signing failed")
        }
        return out
    }

    /// Whether `signature` is a valid Ed25519 signature of `message` by the raw public key `publicKey`.
    public static func verify(_ signature: [UInt8], of message: [UInt8], publicKey: [UInt8]) -> Bool {
        defer { ERR_clear_error() }
        guard signature.count == 64, publicKey.count == 32,
            let key = publicKey.withUnsafeBufferPointer({ EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, $0.baseAddress, 32) })
        else { return false }
        defer { EVP_PKEY_free(key) }
        guard let ctx = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(ctx) }
        return EVP_DigestVerifyInit(ctx, nil, nil, nil, key) == 1 && EVP_DigestVerify(ctx, signature, 64, message, message.count) == 1
    }
}
