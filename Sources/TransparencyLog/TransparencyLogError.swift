import NitroAttestation

/// Why a Merkle proof, a signed note, a verifier key or a checkpoint was refused: a `TransparencyLogErrorCode`, a
/// message and the cause.
public typealias TransparencyLogError = CodedError<TransparencyLogErrorCode>

/// The rule a proof, note, key or checkpoint broke. The raw value is the stable name used in docs/tlog.md.
public enum TransparencyLogErrorCode: String, Sendable, CaseIterable, Codable {
    // Merkle trees and proofs (RFC 9162, section 2.1)
    /// A leaf hash, root or proof node is not 32 bytes.
    case invalidHashLength
    /// A proof about the empty tree: inclusion in a tree of size 0, or consistency from size 0.
    case emptyTree
    /// A leaf index is not below the tree size, or a size is beyond the leaves given.
    case indexOutOfRange
    /// A consistency proof from a larger tree to a smaller one.
    case sizesOutOfOrder
    /// A proof with more or fewer nodes than the index and sizes call for.
    case wrongProofLength
    /// The proof does not lead to the root given (or, between equal sizes, the two roots differ).
    case rootMismatch
    /// A compact range whose hashes do not match its size (one per set bit) or are not 32 bytes.
    case invalidCompactRange

    // Signed notes (C2SP signed-note)
    /// The note is larger than `SignedNote.maxBytes`.
    case noteTooLarge
    /// The note is not valid UTF-8.
    case invalidUTF8
    /// The note holds an ASCII control character other than newline (a CR or a tab included).
    case controlCharacter
    /// There is no blank line before the signatures, the text is empty, or the note does not end in a newline.
    case malformedNote
    /// A signature line is not `— NAME BASE64` with single spaces, or its signature is under 5 bytes.
    case malformedSignatureLine
    /// A key name is empty, longer than `SignedNote.maxNameBytes`, or holds a Unicode space or `+`.
    case invalidKeyName
    /// Base64 that is not the standard, padded, canonical encoding of its bytes.
    case nonCanonicalBase64
    /// More than `SignedNote.maxSignatures` signature lines.
    case tooManySignatures
    /// Two signature lines from the same known key.
    case duplicateSignature
    /// A signature from a known key does not verify (the whole note is refused).
    case invalidSignature
    /// No signature from a known key.
    case noKnownSignature

    // Verifier keys
    /// A verifier key is not `NAME+HEXKEYID+BASE64(TYPE||KEY)` with 8 lower-case hex digits and canonical base64.
    case malformedVerifierKey
    /// The key ID written in a verifier key is not the one its name, type and public key give.
    case keyIDMismatch
    /// A signature type other than Ed25519 (0x01) or the Ed25519 cosignature (0x04), or a key of the wrong length.
    case unsupportedKey
    /// Two verifier keys with the same name and key ID.
    case ambiguousKey
    /// A cosignature timestamp above 2^63 - 1.
    case invalidTimestamp
    /// The signing key failed (see the underlying error).
    case signingFailed

    // Checkpoints (C2SP tlog-checkpoint)
    /// The checkpoint text has fewer than three lines, an empty line, or does not end in a newline.
    case malformedCheckpoint
    /// The origin line is empty.
    case invalidOrigin
    /// The tree size is not a decimal without leading zeros that fits in 64 bits.
    case invalidTreeSize
    /// The root hash is not the canonical base64 of 32 bytes.
    case invalidRootHash
    /// The origin is not the log's.
    case originMismatch
    /// The log's own key did not sign the checkpoint.
    case missingLogSignature
    /// Fewer valid cosignatures from the pinned witnesses than required.
    case notEnoughCosignatures
}
