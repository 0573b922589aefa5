import NitroAttestation

/// Why an HTTPS exchange failed: an `HTTPSClientErrorCode`, a message and the cause NIO or TLS reported.
public typealias HTTPSClientError = CodedError<HTTPSClientErrorCode>

/// The rule an exchange broke. The raw value is the stable name used in docs/kms-client.md.
public enum HTTPSClientErrorCode: String, Sendable, CaseIterable, Codable {
    /// The server's certificate does not chain to one of the trust roots given (expired, self-signed or from
    /// another CA), or no roots were given.
    case untrustedCertificate
    /// The certificate chains to a root but names another host (no `subjectAltName` DNS entry matches the server
    /// name), or the server name is an IP address.
    case hostnameMismatch
    /// TLS failed for another reason: no common version (1.2 is the minimum) or cipher, a bad record, an alert.
    case handshakeFailed
    /// The exchange, handshake included, did not finish within its time limit.
    case timeout
    /// The connection was closed, or never open, before the whole response arrived.
    case closed
    /// The response body is larger than the bound given.
    case responseTooLarge
    /// The response is not HTTP/1.1 the decoder accepts.
    case malformedResponse
    /// The TCP connection could not be made (the dialling convenience only).
    case connectFailed
}
