import NIOCore

/// The per-caller rate of `GET /v1/attestation` (manifest `api.attestationPerMinute` and `api.attestationBurst`).
/// A request with a valid token counts against its holder (a tenant, the auditors, the admin), wherever it comes
/// from; one without counts against the address it comes from: an IPv4 address, or the /64 of an IPv6 one, which
/// one customer of a network usually holds whole. Forwarding headers are not read: any caller could write them.
/// Holders and addresses are kept apart, so that a flood from many addresses never crowds out a token's bucket.
public final class AttestationLimiter: Sendable {
    /// Addresses kept at most; beyond, a new address without a token is refused until old buckets fill up again.
    public static let maxAddresses = 65_536

    let holders: TokenBuckets<Principal>
    let addresses: TokenBuckets<[UInt8]>

    public init(limit: RateLimit, maxAddresses: Int = AttestationLimiter.maxAddresses) {
        holders = TokenBuckets(limit: limit, maxKeys: .max)
        addresses = TokenBuckets(limit: limit, maxKeys: maxAddresses)
    }

    /// Takes one request of `principal` (nil: no valid token) from `address` at `now` (monotonic nanoseconds).
    public func admit(principal: Principal?, address: SocketAddress?, now: UInt64 = NIODeadline.now().uptimeNanoseconds)
        -> RateDecision
    {
        if let principal { return holders.take(principal, now: now) }
        return addresses.take(Self.key(address), now: now)
    }

    /// The bytes an address is counted under: 4 for IPv4 (also when mapped into IPv6), the first 8 for IPv6, none
    /// for a Unix socket or an unknown peer (all of them share one bucket).
    static func key(_ address: SocketAddress?) -> [UInt8] {
        switch address {
        case .v4(let a)?:
            return withUnsafeBytes(of: a.address.sin_addr) { Array($0) }
        case .v6(let a)?:
            let bytes = withUnsafeBytes(of: a.address.sin6_addr) { Array($0) }
            if bytes.prefix(10).allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF { return Array(bytes.suffix(4)) }
            return Array(bytes.prefix(8))
        default:
            return []
        }
    }
}
