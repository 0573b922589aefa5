import NitroAttestation

/// Why the emulated KMS refused to do something: an `EmulatedKMSErrorCode`, a message and the cause.
public typealias EmulatedKMSError = CodedError<EmulatedKMSErrorCode>

/// The rule a request to the emulated KMS broke. The raw value is the stable name used in docs/cms.md.
public enum EmulatedKMSErrorCode: String, Sendable, CaseIterable, Codable {
    /// The recipient public key is not one DER SubjectPublicKeyInfo as libcrypto writes it, with nothing after it.
    case recipientKeyMalformed
    /// The recipient public key is not an RSA key (rsaEncryption): EC, Ed25519 and RSA-PSS keys cannot take
    /// RSAES-OAEP key transport.
    case recipientKeyType
    /// The recipient RSA key's modulus is outside 2048...4096 bits.
    case recipientKeySize
    /// The plaintext is larger than KMS ever answers (4096 bytes).
    case plaintextTooLarge
    /// libcrypto failed for a reason that is not the request's (allocation, encryption).
    case internalError
    /// The emulated KMS's key file cannot be read or written.
    case storeUnreadable
    /// The emulated KMS's TLS certificate or server could not be set up.
    case tlsSetup
}
