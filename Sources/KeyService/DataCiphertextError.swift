import NitroAttestation

/// Why a ciphertext string was refused before any key was tried: a `DataCiphertextErrorCode`, a message. The key
/// service answers each with the status `invalidCiphertext`, the code in its message.
public typealias DataCiphertextError = CodedError<DataCiphertextErrorCode>

/// The rule a ciphertext string broke, checked in this order. The raw value is the stable name docs/keys.md uses.
public enum DataCiphertextErrorCode: String, Sendable, CaseIterable, Codable {
    /// Longer than `DataCiphertext.maxTextBytes`, the bound of a request body: checked before anything is read.
    case oversized
    /// Not `cloister:` followed by two or three fields separated by colons.
    case malformed
    /// Three fields, the first of which is not a scheme the service knows (`xaes`).
    case unknownScheme
    /// The version is not `v` and a number from 1 to 2^64 - 1 in decimal without leading zeros.
    case badVersion
    /// The bytes are not standard padded base64, written the one way `key.encrypt` writes them.
    case badBase64
    /// Fewer bytes than the scheme's nonce and a tag.
    case truncated
}
