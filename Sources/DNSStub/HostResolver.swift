/// Something that turns a host name into addresses with a TTL. `DNSResolver` asks nameservers; tests and
/// emulation can answer from a table. `ResolutionCache` works with any of them.
public protocol HostResolver: Sendable {
    /// The addresses of `host` and how many seconds they may be used. An answer without addresses (NXDOMAIN with
    /// `rcode` `.nameError`, or NODATA) is returned, not thrown, so that its TTL is not lost; failures to get any
    /// answer are thrown.
    func resolve(_ host: String) async throws -> DNSAnswer
}
