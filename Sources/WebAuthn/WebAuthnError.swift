import NitroAttestation

/// Why a WebAuthn registration or assertion was refused: a `WebAuthnErrorCode`, a message and the cause.
public typealias WebAuthnError = CodedError<WebAuthnErrorCode>

/// The rule a WebAuthn registration or assertion broke. The raw value is the stable name used in docs/webauthn.md.
public enum WebAuthnErrorCode: String, Sendable, CaseIterable, Codable {
    // Client data (W3C WebAuthn, section 5.8.1)
    /// clientDataJSON is not a JSON object within the bounds, or `type`, `challenge`, `origin`, `crossOrigin`
    /// or `topOrigin` is missing, of the wrong JSON type, or (the challenge) not unpadded base64url.
    case clientDataMalformed
    /// An object in clientDataJSON names the same member twice.
    case clientDataDuplicateMember
    /// `type` is not the ceremony's: "webauthn.create" to register, "webauthn.get" to assert.
    case typeMismatch
    /// The challenge is not the expected bytes.
    case challengeMismatch
    /// The origin is not one of the policy's allowed origins (exact match).
    case originNotAllowed
    /// The ceremony ran in a cross-origin frame: `crossOrigin` is true, or `topOrigin` is present.
    case crossOrigin

    // Authenticator data (section 6.1)
    /// The authenticator data is shorter than 37 bytes, longer than the bound, has bytes after its last
    /// part, or its attested credential data is truncated or declares a credential id over 1023 bytes.
    case authenticatorDataMalformed
    /// The ED flag is set, but what follows the other parts is not exactly one CBOR map with text keys
    /// within the bounds. (Bytes after the other parts without ED are `authenticatorDataMalformed`.)
    case extensionsMalformed
    /// The BS (backup state) flag is set while BE (backup eligibility) is not.
    case backupStateInvalid
    /// The credential public key is not a COSE_Key of exactly the parameters its algorithm requires, or its
    /// point is not on the curve.
    case coseKeyMalformed
    /// The credential public key's algorithm is neither ES256 (-7) nor EdDSA (-8), or the policy does not
    /// allow it.
    case unsupportedAlgorithm
    /// A stored public key (algorithm and SubjectPublicKeyInfo) does not describe a key of that algorithm.
    case publicKeyInvalid

    // Attestation object (section 6.5)
    /// The attestation object is not a CBOR map of exactly `fmt` (text), `attStmt` (map) and `authData`
    /// (bytes) within the bounds, or a "none" statement is not empty.
    case attestationMalformed
    /// The attestation statement format is not "none".
    case unsupportedAttestationFormat
    /// A registration's authenticator data has no attested credential data (AT not set).
    case credentialDataMissing

    // Verification (sections 7.1 and 7.2)
    /// rpIdHash is not SHA-256 of the policy's relying party id.
    case rpIdHashMismatch
    /// The UP (user present) flag is not set.
    case userNotPresent
    /// The UV (user verified) flag is not set and the policy requires user verification.
    case userNotVerified
    /// The assertion signature does not verify over authenticatorData ‖ SHA-256(clientDataJSON).
    case signatureInvalid
    /// The signature counter did not increase although one of the stored and the new counts is non-zero.
    case signCountNotIncreased
}
