/// The address record types the stub resolver asks for. The raw value is the TYPE number on the wire.
public enum DNSRecordType: UInt16, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// An IPv4 address (RFC 1035 section 3.4.1).
    case a = 1
    /// An IPv6 address (RFC 3596 section 2.1).
    case aaaa = 28

    /// The number of bytes in this type's record data.
    public var addressLength: Int {
        switch self {
        case .a: 4
        case .aaaa: 16
        }
    }

    /// `A` or `AAAA`.
    public var description: String {
        switch self {
        case .a: "A"
        case .aaaa: "AAAA"
        }
    }
}
