/// A registration that verified: the credential to store for the tenant.
public struct Registration: Sendable, Hashable {
    /// The credential id, at most 1023 bytes; the browser names the credential by it in later assertions.
    public let credentialID: [UInt8]
    /// The credential public key (COSE algorithm and SubjectPublicKeyInfo).
    public let publicKey: CredentialPublicKey
    /// The signature counter at registration: the first stored count.
    public let signCount: UInt32
    /// The authenticator model's AAGUID (unverified with "none" attestation: for display only).
    public let aaguid: [UInt8]
    /// The flags as the authenticator set them.
    public let flags: AuthenticatorFlags
    /// The parsed client data.
    public let clientData: ClientData
    /// The parsed authenticator data.
    public let authenticatorData: AuthenticatorData

    /// BE: the credential may be synced to other devices. Fixed for the credential's life.
    public var isBackupEligible: Bool { flags.contains(.backupEligible) }
    /// BS: the credential is backed up now.
    public var isBackedUp: Bool { flags.contains(.backedUp) }
    /// UV: the user was verified.
    public var isUserVerified: Bool { flags.contains(.userVerified) }
}
