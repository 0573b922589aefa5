/// An assertion that verified: the credential's key signed this ceremony over the expected challenge.
public struct VerifiedAssertion: Sendable, Hashable {
    /// The signature counter the authenticator reported: the count to store in place of the old one.
    public let signCount: UInt32
    /// The flags as the authenticator set them.
    public let flags: AuthenticatorFlags
    /// The parsed client data.
    public let clientData: ClientData
    /// The parsed authenticator data.
    public let authenticatorData: AuthenticatorData

    /// BS: the credential is backed up now.
    public var isBackedUp: Bool { flags.contains(.backedUp) }
    /// UV: the user was verified.
    public var isUserVerified: Bool { flags.contains(.userVerified) }
}
