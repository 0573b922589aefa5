/// What a name resolved to, and for how long that may be relied upon.
public struct DNSAnswer: Sendable, Hashable {
    /// The addresses, in the order the records came. Empty for NXDOMAIN and NODATA answers.
    public var addresses: [DNSAddress]
    /// Seconds the answer may be cached: the smallest TTL of the records used (CNAME links included), or for an
    /// answer without addresses the negative-caching TTL of RFC 2308. At most 2^31 - 1 (RFC 2181 section 8).
    public var ttl: UInt32
    /// `noError`, or `nameError` when the name does not exist.
    public var rcode: DNSResponseCode

    /// Makes an answer from its parts.
    public init(addresses: [DNSAddress], ttl: UInt32, rcode: DNSResponseCode = .noError) {
        self.addresses = addresses
        self.ttl = ttl
        self.rcode = rcode
    }
}
