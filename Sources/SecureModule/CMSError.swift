import NitroAttestation

/// Why a CMS envelope was refused: a `CMSErrorCode`, a message and the cause.
public typealias CMSError = CodedError<CMSErrorCode>

/// The rule a CMS EnvelopedData (KMS's `CiphertextForRecipient`) broke. The raw value is the stable name used in
/// docs/cms.md.
public enum CMSErrorCode: String, Sendable, CaseIterable, Codable {
    /// The input is empty, larger than 64 KiB, not a BER ContentInfo libcrypto accepts, has bytes after it, or its
    /// parts are not where RFC 5652 puts them.
    case malformed
    /// The content type is not id-envelopedData.
    case notEnvelopedData
    /// The EnvelopedData version is not 2 (the version RFC 5652 requires with a version 2 KeyTransRecipientInfo).
    case envelopeVersion
    /// There is not exactly one RecipientInfo.
    case recipientCount
    /// The RecipientInfo is not a KeyTransRecipientInfo.
    case recipientType
    /// The KeyTransRecipientInfo is not version 2 with a subject key identifier (version 0 names the recipient by
    /// issuer and serial number).
    case recipientVersion
    /// The subject key identifier is not this recipient key's.
    case recipientMismatch
    /// The key encryption algorithm is not RSAES-OAEP with SHA-256, MGF1 with SHA-256 and the empty label.
    case keyEncryptionAlgorithm
    /// The encrypted content is not id-data under AES-256-CBC with a 16-byte IV, or is absent.
    case contentEncryptionAlgorithm
    /// The content key or the content did not decrypt with this recipient key (OAEP or CBC padding failed).
    case decryptFailed
    /// The plaintext is not exactly the expected length.
    case lengthMismatch
    /// libcrypto failed for a reason that is not the envelope's (allocation, key generation).
    case internalError
}
