import CBOR

/// Why an attestation document was refused. One code per rule; equality compares the code only.
public struct AttestationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The rule that failed. The raw value is the stable name used in JSON output and in docs/attestation-checks.md.
    public enum Code: String, Sendable, CaseIterable, Codable {
        // Input
        /// The input is not CBOR, base64 or hex, or is larger than a document can be.
        case unreadableInput
        /// The bytes are not well-formed CBOR within the decoder's bounds (see the underlying `CBORError`).
        case malformedCBOR

        // COSE_Sign1 (RFC 9052)
        /// The item is tagged with a tag other than 18 (COSE_Sign1).
        case invalidCOSETag
        /// The item is not an array of four elements.
        case invalidCOSEStructure
        /// The protected header is not a byte string holding exactly `{1: -35}` (ES384).
        case invalidProtectedHeader
        /// The unprotected header is not an empty map.
        case invalidUnprotectedHeader
        /// The payload is not a byte string holding a CBOR map.
        case invalidPayload
        /// The signature is not a 96-byte string (raw r || s for P-384).
        case invalidSignatureLength

        // The attestation document (AWS's syntactic rules)
        /// A key other than the nine AWS defines, or a non-text key.
        case unexpectedField
        /// module_id is missing, not text, or empty.
        case invalidModuleID
        /// digest is missing or not "SHA384".
        case invalidDigest
        /// timestamp is missing, not an unsigned integer, or zero.
        case invalidTimestamp
        /// pcrs is missing, not a map, or holds other than 1...32 entries.
        case invalidPCRs
        /// A PCR index is not an integer in 0...31.
        case invalidPCRIndex
        /// A PCR value is not a byte string of 32, 48 or 64 bytes.
        case invalidPCRLength
        /// certificate is missing, not a byte string, or not 1...1024 bytes.
        case invalidCertificate
        /// cabundle is missing, not an array, or empty.
        case invalidCABundle
        /// A cabundle entry is not a byte string of 1...1024 bytes.
        case invalidCABundleEntry
        /// public_key is neither null nor a byte string of at most 1024 bytes.
        case invalidPublicKey
        /// user_data is neither null nor a byte string of at most 1024 bytes.
        case invalidUserData
        /// nonce is neither null nor a byte string of at most 1024 bytes.
        case invalidNonce

        // Certificate chain
        /// A certificate is not valid DER X.509.
        case certificateParseFailed
        /// The SHA-256 of cabundle[0] matches no trusted root.
        case untrustedRoot
        /// A certificate in the chain expired before the validation time.
        case certificateExpired
        /// A certificate in the chain is not yet valid at the validation time.
        case certificateNotYetValid
        /// A certificate's signature does not verify with its issuer's key.
        case chainSignatureInvalid
        /// A CA certificate lacks CA:TRUE or keyCertSign, or a path length constraint is exceeded.
        case caConstraintViolated
        /// The chain does not run root -> cabundle[1...] -> certificate in order, or fails another path check.
        case chainInvalid
        /// The leaf certificate's key is not an EC P-384 key.
        case leafKeyNotP384
        /// The leaf certificate is a CA or lacks the digitalSignature key usage.
        case leafKeyUsageInvalid

        // Document signature
        /// The ES384 signature does not verify with the leaf certificate's key.
        case signatureInvalid

        // Policies
        /// A pinned PCR differs from the document's.
        case pcrMismatch
        /// A pinned PCR is absent from the document.
        case pcrMissing
        /// The document's nonce is not the expected one.
        case nonceMismatch
        /// The document is older than the allowed age at the validation time.
        case documentTooOld
        /// The document's timestamp is later than the validation time (beyond the allowed skew).
        case documentFromFuture
        /// The document comes from a debug-mode enclave (PCR0, PCR1, PCR2 all zero) and debug is not allowed.
        case debugModeNotAllowed
    }

    /// The rule that failed.
    public let code: Code
    /// What exactly was wrong, for people.
    public let message: String
    /// The underlying cause, when another layer reported it (a `CBORError`, an OpenSSL message).
    public let underlying: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public static func == (lhs: AttestationError, rhs: AttestationError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    public var description: String { "\(code.rawValue): \(message)" }
}

/// An OpenSSL failure, kept as the underlying cause of an `AttestationError`.
public struct OpenSSLError: Error, Sendable, CustomStringConvertible {
    /// OpenSSL's own reason text.
    public let reason: String
    public var description: String { reason }
}
