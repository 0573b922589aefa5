/// The flags byte of authenticator data (W3C WebAuthn, section 6.1). Bit 0 is the least significant.
///
/// The reserved bits (RFU1, bit 1; RFU2, bit 5) are kept as received and never judged: the specification
/// reserves them without requiring them to be zero.
public struct AuthenticatorFlags: OptionSet, Sendable, Hashable {
    /// The byte as the authenticator sent it, reserved bits included.
    public let rawValue: UInt8

    /// The flags of a byte.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// UP, bit 0: the user was present.
    public static let userPresent = AuthenticatorFlags(rawValue: 0x01)
    /// RFU1, bit 1: reserved for future use.
    public static let reserved1 = AuthenticatorFlags(rawValue: 0x02)
    /// UV, bit 2: the user was verified (biometric, PIN).
    public static let userVerified = AuthenticatorFlags(rawValue: 0x04)
    /// BE, bit 3: the credential may be backed up (a synced passkey). Fixed when the credential is created.
    public static let backupEligible = AuthenticatorFlags(rawValue: 0x08)
    /// BS, bit 4: the credential is backed up now. Never set without `backupEligible`.
    public static let backedUp = AuthenticatorFlags(rawValue: 0x10)
    /// RFU2, bit 5: reserved for future use.
    public static let reserved2 = AuthenticatorFlags(rawValue: 0x20)
    /// AT, bit 6: attested credential data follows the counter.
    public static let attestedCredentialData = AuthenticatorFlags(rawValue: 0x40)
    /// ED, bit 7: an extensions map ends the authenticator data.
    public static let extensionData = AuthenticatorFlags(rawValue: 0x80)
}
