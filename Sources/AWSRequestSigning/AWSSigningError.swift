import NitroAttestation

/// Why a request could not be signed: an `AWSSigningErrorCode`, a message and the cause.
public typealias AWSSigningError = CodedError<AWSSigningErrorCode>

/// The rule a signing input broke. The raw value is the stable name used in docs/sigv4.md.
public enum AWSSigningErrorCode: String, Sendable, CaseIterable, Codable {
    // Scope
    /// The region is not 1...63 characters of `a-z`, `0-9` and `-`.
    case invalidRegion
    /// The service is not 1...63 characters of `a-z`, `0-9` and `-`.
    case invalidService
    /// The signing time is before 1970-01-01T00:00:00Z or after 9999-12-31T23:59:59Z.
    case timeOutOfRange

    // Credentials
    /// The access key id is not 1...128 characters of `A-Z`, `a-z` and `0-9`.
    case invalidAccessKeyID
    /// The secret access key is empty, longer than 128 bytes, or holds other than printable ASCII.
    case invalidSecretAccessKey
    /// The session token is present but empty, longer than 8192 bytes, or holds other than printable ASCII.
    case invalidSessionToken

    // Request
    /// The method is not 1...20 upper-case ASCII letters.
    case invalidMethod
    /// The path does not start with `/`, is longer than 2048 bytes, or holds a control character, `?` or `#`.
    case invalidPath
    /// More than 100 query items.
    case tooManyQueryItems
    /// A query name or value is longer than 2048 bytes or holds a control character.
    case invalidQueryItem
    /// More than 100 headers.
    case tooManyHeaders
    /// A header name is empty, longer than 256 bytes, or holds other than RFC 9110 token characters.
    case invalidHeaderName
    /// A header value is longer than 8192 bytes or holds a control character (tab, CR, LF, NUL included) or a
    /// byte outside ASCII.
    case invalidHeaderValue
    /// The request already carries a header the signer writes: `Authorization`, `X-Amz-Date`,
    /// `X-Amz-Security-Token` or `X-Amz-Content-Sha256`.
    case reservedHeader
    /// The request has no `Host` header, more than one, or an empty one.
    case invalidHost

    // Verification (a server checking a signed request)
    /// The `Authorization` header is missing or not `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
    case malformedAuthorization
    /// The credential scope names another date, region or service, or not `aws4_request`.
    case wrongScope
    /// `X-Amz-Date` is missing, malformed, or more than the allowed skew from the server's clock.
    case requestTimeTooSkewed
    /// The access key id is not one the server knows (or its credentials have expired).
    case unknownAccessKey
    /// The session token is missing or is not the one issued with the access key.
    case invalidToken
    /// `SignedHeaders` leaves out `host` or `x-amz-date`, or names a header the request does not carry.
    case unsignedHeader
    /// The signature is not the one the request and the secret give.
    case signatureMismatch
}
