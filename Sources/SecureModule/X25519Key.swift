import COpenSSL

/// An X25519 key pair in libcrypto: the enclave's HPKE key, created at boot and never exported. Only its
/// 32-byte public key leaves the enclave, inside the attestation document's `user_data`.
public final class X25519Key: @unchecked Sendable {
    // Never mutated after init.
    let pointer: OpaquePointer

    private init(pointer: OpaquePointer) { self.pointer = pointer }
    deinit { EVP_PKEY_free(pointer) }

    /// A fresh key from libcrypto's random generator.
    public static func generate() throws(NSMError) -> X25519Key {
        guard let key = cloister_generate_x25519() else { throw NSMError(.internalError, "X25519 key generation failed") }
        return X25519Key(pointer: key)
    }

    /// A key from its raw 32-byte private key (tests with known vectors; the enclave always generates).
    public static func fromRawPrivateKey(_ raw: [UInt8]) throws(NSMError) -> X25519Key {
        guard raw.count == 32, let key = raw.withUnsafeBufferPointer({ EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nil, $0.baseAddress, 32) }) else {
            throw NSMError(.invalidArgument, "an X25519 private key is 32 bytes")
        }
        return X25519Key(pointer: key)
    }

    /// The raw 32-byte private key: only for a key that is to be kept outside an enclave (a recovery key file).
    public func rawPrivateKey() throws(NSMError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length = 32
        guard EVP_PKEY_get_raw_private_key(pointer, &out, &length) == 1, length == 32 else { throw NSMError(.internalError, "no raw X25519 private key") }
        return out
    }

    /// The raw 32-byte public key (RFC 7748).
    public var publicKey: [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length = 32
        guard EVP_PKEY_get_raw_public_key(pointer, &out, &length) == 1, length == 32 else { return [] }
        return out
    }
}
