import COpenSSL

/// A P-384 public key that checks ES384 signatures: the identity key an attestation document's `public_key`
/// carries (DER SubjectPublicKeyInfo), against which every seal of that boot must verify.
public final class ES384PublicKey: @unchecked Sendable, Hashable {
    // Never mutated after init; libcrypto verification with a shared EVP_PKEY is thread-safe.
    let pointer: OpaquePointer
    /// The key as DER SubjectPublicKeyInfo, exactly as given.
    public let spki: [UInt8]

    /// Reads a DER SubjectPublicKeyInfo; anything but an EC P-384 key, or trailing bytes, is refused.
    public init(spki: [UInt8]) throws(AttestationError) {
        guard !spki.isEmpty, spki.count <= 1024 else { throw AttestationError(.invalidPublicKey, "public key must be 1 to 1024 bytes of DER") }
        let parsed: (OpaquePointer?, Int) = spki.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            let key = d2i_PUBKEY(nil, &cursor, buffer.count)
            return (key, cursor.map { $0 - buffer.baseAddress! } ?? 0)
        }
        ERR_clear_error()
        guard let key = parsed.0 else { throw AttestationError(.invalidPublicKey, "public key is not a DER SubjectPublicKeyInfo") }
        guard parsed.1 == spki.count else {
            EVP_PKEY_free(key)
            throw AttestationError(.invalidPublicKey, "public key has trailing bytes")
        }
        var name = [CChar](repeating: 0, count: 32)
        var length = 0
        let isP384 = EVP_PKEY_get_base_id(key) == EVP_PKEY_EC && EVP_PKEY_get_group_name(key, &name, name.count, &length) == 1
            && String(decoding: name.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self) == "secp384r1"
        guard isP384 else {
            EVP_PKEY_free(key)
            throw AttestationError(.invalidPublicKey, "public key is not EC P-384")
        }
        pointer = key
        self.spki = spki
    }

    deinit { EVP_PKEY_free(pointer) }

    /// Whether `signature` (raw r ‖ s) over `message` is an ES384 signature by this key.
    public func verify(signature: [UInt8], message: [UInt8]) -> Bool {
        ES384.verify(signature: signature, message: message, key: pointer)
    }

    /// Whether `envelope`'s signature over its Sig_structure is by this key.
    public func verify(_ envelope: COSESign1) -> Bool {
        verify(signature: envelope.signature, message: envelope.signedBytes)
    }

    public static func == (a: ES384PublicKey, b: ES384PublicKey) -> Bool { a.spki == b.spki }
    public func hash(into hasher: inout Hasher) { hasher.combine(spki) }
}
