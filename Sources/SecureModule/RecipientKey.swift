import COpenSSL
import NitroAttestation

/// An RSA-2048 key pair made inside the enclave to receive KMS's `CiphertextForRecipient`: its public key goes into
/// the attestation document's `public_key`; its private key never leaves this value.
public final class RecipientKey: @unchecked Sendable {
    // Never mutated after init; libcrypto decryption with a shared EVP_PKEY is thread-safe.
    let pointer: OpaquePointer

    /// The public key as DER SubjectPublicKeyInfo, as the attestation document's `public_key` carries it.
    public let publicKeyDER: [UInt8]

    /// The subject key identifiers an envelope may name this key by, all hashes of the subjectPublicKey bit string
    /// or of the whole SubjectPublicKeyInfo: SHA-1 of the bit string (RFC 5280 4.2.1.2, as `openssl cms -keyid`
    /// computes it), SHA-256 of the bit string and SHA-256 of the SubjectPublicKeyInfo (RFC 7093 methods 1 and 4
    /// untruncated; KMS writes a 32-byte identifier).
    let subjectKeyIdentifiers: [[UInt8]]

    private init(pointer: OpaquePointer) throws(CMSError) {
        self.pointer = pointer
        publicKeyDER = X509Certificate.subjectPublicKeyInfo(pointer)
        guard EVP_PKEY_get_base_id(pointer) == EVP_PKEY_RSA, EVP_PKEY_get_bits(pointer) == 2048,
            let bits = Self.subjectPublicKey(publicKeyDER)
        else {
            EVP_PKEY_free(pointer)
            throw CMSError(.internalError, "the recipient key is not RSA-2048")
        }
        subjectKeyIdentifiers = [Self.sha1(bits), SHA.sha256(bits), SHA.sha256(publicKeyDER)]
    }

    deinit { EVP_PKEY_free(pointer) }

    /// A fresh RSA-2048 key from libcrypto's random generator.
    public static func generate() throws(CMSError) -> RecipientKey {
        guard let key = cloister_generate_rsa(2048) else { throw CMSError(.internalError, "RSA-2048 key generation failed") }
        return try RecipientKey(pointer: key)
    }

    /// Reads a PEM RSA-2048 private key. Only tests use it: in production the key is made inside and never read in.
    convenience init(pem: [UInt8]) throws(CMSError) {
        guard let key = PEMKeys.read(pem) else { throw CMSError(.internalError, "not a PEM private key") }
        try self.init(pointer: key)
    }

    /// Whether `identifier` names this key.
    func isNamed(by identifier: [UInt8]) -> Bool { subjectKeyIdentifiers.contains(identifier) }

    /// The contents of the subjectPublicKey BIT STRING of `spki`, without its unused-bits octet.
    private static func subjectPublicKey(_ spki: [UInt8]) -> [UInt8]? {
        var outer = DERReader(spki[...])
        guard let sequence = outer.read(0x30), outer.isAtEnd else { return nil }
        var fields = DERReader(sequence)
        guard fields.read(0x30) != nil, let bits = fields.read(0x03), fields.isAtEnd, bits.first == 0 else { return nil }
        return Array(bits.dropFirst())
    }

    private static func sha1(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 20)
        var written: UInt32 = 0
        let ok = data.withUnsafeBufferPointer { EVP_Digest($0.baseAddress, $0.count, &out, &written, EVP_sha1(), nil) }
        precondition(ok == 1 && written == 20, "libcrypto SHA-1 failed")
        return out
    }
}
