/// The RCODE of a response (RFC 1035 section 4.1.1). A `DNSAnswer` only ever holds `noError` or `nameError`;
/// the other codes are reported as a `DNSError`.
public enum DNSResponseCode: UInt8, Sendable, Hashable, CaseIterable {
    /// The query was answered; the answer may still hold no addresses (NODATA).
    case noError = 0
    /// FORMERR: the server could not interpret the query.
    case formatError = 1
    /// SERVFAIL: the server could not answer.
    case serverFailure = 2
    /// NXDOMAIN: the name does not exist.
    case nameError = 3
    /// NOTIMP: the server does not support the query.
    case notImplemented = 4
    /// REFUSED: the server will not answer.
    case refused = 5
}
