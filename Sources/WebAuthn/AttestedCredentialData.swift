/// What a registration adds to authenticator data (W3C WebAuthn, section 6.5.1): the authenticator model, the
/// credential id, and the credential public key.
public struct AttestedCredentialData: Sendable, Hashable {
    /// The authenticator model's AAGUID (16 bytes; all zero when the authenticator does not say).
    public var aaguid: [UInt8]
    /// The credential id, at most 1023 bytes.
    public var credentialID: [UInt8]
    /// The credential public key.
    public var publicKey: CredentialPublicKey

    /// Length of an AAGUID.
    public static let aaguidLength = 16
    /// Longest credential id (section 7.1: "credentialId is less than or equal to 1023 bytes").
    public static let maxCredentialIDLength = 1023

    /// Attested credential data from its parts.
    public init(aaguid: [UInt8], credentialID: [UInt8], publicKey: CredentialPublicKey) {
        self.aaguid = aaguid
        self.credentialID = credentialID
        self.publicKey = publicKey
    }

    /// aaguid ‖ credentialIdLength (2 bytes, big-endian) ‖ credentialId ‖ the COSE_Key (deterministic CBOR).
    public var encoded: [UInt8] {
        aaguid + [UInt8(truncatingIfNeeded: credentialID.count >> 8), UInt8(truncatingIfNeeded: credentialID.count)]
            + credentialID
            + publicKey.coseKey.encoded
    }
}
