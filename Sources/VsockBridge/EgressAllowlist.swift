/// The destinations an enclave may reach, as exact `host:port` pairs. The enclave checks it before asking, and
/// the host checks it again before connecting: neither side trusts the other to have done so. Names compare
/// case-insensitively and without a trailing dot; there are no wildcards, so what is allowed is what is listed.
public struct EgressAllowlist: Sendable, Hashable {
    /// One allowed destination.
    public struct Entry: Sendable, Hashable, CustomStringConvertible {
        public let host: String
        public let port: UInt16
        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// Why a destination could not be listed.
    public struct Error: Swift.Error, Hashable, Sendable, CustomStringConvertible {
        public let description: String
    }

    public private(set) var entries: Set<Entry> = []

    public init() {}

    /// An allowlist of `HOST:PORT` strings.
    public init(_ destinations: [String]) throws(Error) {
        for d in destinations { try add(d) }
    }

    public var isEmpty: Bool { entries.isEmpty }

    /// Adds `HOST:PORT` (IPv6 in brackets).
    public mutating func add(_ destination: String) throws(Error) {
        let address: BridgeAddress
        do { address = try BridgeAddress("tcp://" + destination) } catch {
            throw Error(description: "\"\(destination.prefix(100))\" is not HOST:PORT: \(error.reason)")
        }
        guard case .tcp(let host, let port) = address else { throw Error(description: "not HOST:PORT") }
        entries.insert(Entry(host: Self.normalize(host), port: UInt16(port)))
    }

    /// Whether `host:port` is listed.
    public func permits(host: String, port: UInt16) -> Bool {
        entries.contains(Entry(host: Self.normalize(host), port: port))
    }

    static func normalize(_ host: String) -> String {
        var h = host.lowercased()
        if h.hasSuffix(".") { h.removeLast() }
        return h
    }
}
