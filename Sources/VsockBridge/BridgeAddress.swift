import NIOCore
import NIOPosix

/// Where a bridge endpoint lives: `vsock://CID:PORT` on Nitro, `tcp://HOST:PORT` in emulation.
public enum BridgeAddress: Hashable, Sendable, CustomStringConvertible {
    /// An AF_VSOCK address. CID `any` (0xFFFFFFFF) binds on every context id.
    case vsock(cid: UInt32, port: UInt32)
    /// A TCP address: a host name, an IPv4 address or a bracketed IPv6 address, and a port.
    case tcp(host: String, port: Int)

    /// Why text is not a bridge address.
    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        public let text: String
        public let reason: String
        public var description: String { "\"\(text.prefix(100))\" is not a bridge address: \(reason)" }
    }

    /// Parses `vsock://CID:PORT` (CID a number or `any`) or `tcp://HOST:PORT`.
    public init(_ text: String) throws(ParseError) {
        func fail(_ reason: String) -> ParseError { ParseError(text: text, reason: reason) }
        guard text.utf8.count <= 300 else { throw fail("longer than 300 characters") }
        if text.hasPrefix("vsock://") {
            let rest = text.dropFirst("vsock://".count)
            let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw fail("expected vsock://CID:PORT") }
            let cid: UInt32
            if parts[0] == "any" {
                cid = UInt32.max
            } else {
                guard let c = Self.decimal(parts[0], max: UInt64(UInt32.max)) else { throw fail("the CID must be a number or any") }
                cid = UInt32(c)
            }
            // 0xFFFFFFFF is VMADDR_PORT_ANY, not a port one can dial.
            guard let port = Self.decimal(parts[1], max: UInt64(UInt32.max) - 1), port > 0 else {
                throw fail("the port must be a number from 1 to 4294967294")
            }
            self = .vsock(cid: cid, port: UInt32(port))
        } else if text.hasPrefix("tcp://") {
            let rest = text.dropFirst("tcp://".count)
            guard let colon = rest.lastIndex(of: ":") else { throw fail("expected tcp://HOST:PORT") }
            var host = rest[..<colon]
            guard let port = Self.decimal(rest[rest.index(after: colon)...], max: 65535), port > 0 else {
                throw fail("the port must be a number from 1 to 65535")
            }
            if host.hasPrefix("[") {
                guard host.hasSuffix("]"), host.count > 2 else { throw fail("an IPv6 address must be bracketed, as [::1]") }
                host = host.dropFirst().dropLast()
                guard host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { throw fail("not an IPv6 address") }
            } else {
                guard !host.isEmpty, host.count <= 253,
                    host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") })
                else { throw fail("the host must be a name or an address") }
            }
            self = .tcp(host: String(host), port: Int(port))
        } else {
            throw fail("the scheme must be vsock:// or tcp://")
        }
    }

    public var description: String {
        switch self {
        case .vsock(let cid, let port): return "vsock://\(cid == UInt32.max ? "any" : String(cid)):\(port)"
        case .tcp(let host, let port): return "tcp://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        }
    }

    /// Binds a server bootstrap to this address.
    public func bind(_ bootstrap: ServerBootstrap) -> EventLoopFuture<Channel> {
        switch self {
        case .vsock(let cid, let port):
            return bootstrap.bind(to: VsockAddress(cid: .init(rawValue: cid), port: .init(rawValue: port)))
        case .tcp(let host, let port):
            return bootstrap.bind(host: host, port: port)
        }
    }

    /// Connects a client bootstrap to this address.
    public func connect(_ bootstrap: ClientBootstrap) -> EventLoopFuture<Channel> {
        switch self {
        case .vsock(let cid, let port):
            return bootstrap.connect(to: VsockAddress(cid: .init(rawValue: cid), port: .init(rawValue: port)))
        case .tcp(let host, let port):
            return bootstrap.connect(host: host, port: port)
        }
    }

    private static func decimal(_ text: Substring, max: UInt64) -> UInt64? {
        guard !text.isEmpty, text.count <= 20, text.allSatisfy({ $0.isASCII && $0.isNumber }),
            !(text.count > 1 && text.first == "0"), let v = UInt64(text), v <= max
        else { return nil }
        return v
    }
}
