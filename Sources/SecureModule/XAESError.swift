import NitroAttestation

/// Why XAES-256-GCM refused to seal or open: an `XAESErrorCode`, a message and the cause.
public typealias XAESError = CodedError<XAESErrorCode>

/// The rule an XAES-256-GCM call broke. The raw value is the stable name docs/keys.md uses.
public enum XAESErrorCode: String, Sendable, CaseIterable, Codable {
    /// The key is not 32 bytes.
    case keySize
    /// The nonce is not 24 bytes.
    case nonceSize
    /// The plaintext, the ciphertext or the associated data is longer than `XAES256GCM.maxMessageSize`.
    case tooLong
    /// The sealed bytes are shorter than a tag.
    case truncated
    /// The tag does not match: another key, nonce or associated data, or altered bytes. Every forgery fails the
    /// same way.
    case authenticationFailed
    /// libcrypto failed for a reason that is not the input's (allocation).
    case internalError
}
