import NitroAttestation

/// Why `KMSKeyPolicy` refused to write a policy: a `KMSPolicyErrorCode` and a message naming the input.
public typealias KMSPolicyError = CodedError<KMSPolicyErrorCode>

/// The rule a key-policy input broke. The raw value is the stable name docs/kms.md lists.
public enum KMSPolicyErrorCode: String, Sendable, CaseIterable {
    /// A principal is not `arn:aws:iam::ACCOUNT:role/NAME`, `...:user/NAME` or `...:root`.
    case invalidPrincipalARN
    /// The enclave's principal is an account root: every identity the account trusts could then decrypt.
    case enclavePrincipalIsRoot
    /// The enclave's principal is also the administrator, so it could rewrite the policy that binds it.
    case enclavePrincipalIsAdministrator
    /// `--key-arn` is not `arn:aws:kms:REGION:ACCOUNT:key/ID`.
    case invalidKeyARN
    /// An authorised build pins neither all of PCR0, PCR1 and PCR2 nor PCR8: its statement would admit other images.
    case buildNotPinned
    /// A pinned PCR is not 48 bytes (SHA-384), the only length a Nitro attestation carries: it could never match.
    case pcrLength
}
