import NitroAttestation

/// Why the instance role's credentials could not be had from the instance metadata service (IMDSv2); equality
/// compares the code only.
public typealias InstanceCredentialsError = CodedError<InstanceCredentialsErrorCode>

/// One code per rule; docs/instance-credentials.md lists each with its test.
public enum InstanceCredentialsErrorCode: String, Sendable, Hashable {
    /// The configuration was refused by `validate()`.
    case invalidConfiguration
    /// No connection to the metadata service (refused, reset, or closed before a whole answer).
    case unreachable
    /// The metadata service did not answer within the configured timeout.
    case timedOut
    /// An answer other than 200 (and other than the 401 that makes the client fetch a new token).
    case unexpectedStatus
    /// An answer's body is longer than the configured bound.
    case bodyTooLarge
    /// The session token is empty, too long, or not printable ASCII.
    case malformedToken
    /// A fresh token was refused with 401 too.
    case tokenRejected
    /// The role listing is empty, or its first line is not an IAM role name.
    case malformedRoleName
    /// The credentials body is not a JSON object of strings where strings are expected.
    case malformedJSON
    /// `Code` is present and is not `Success`.
    case notSuccess
    /// A required field (`Code`, `AccessKeyId`, `SecretAccessKey`, `Token`, `Expiration`) is missing or empty.
    case missingField
    /// A field is longer than its bound or holds characters it may not.
    case malformedField
    /// `Expiration` is not an ISO 8601 date and time in UTC.
    case malformedExpiration
    /// The credentials had already expired when they were received.
    case expired
}
