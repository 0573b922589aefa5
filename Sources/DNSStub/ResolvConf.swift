/// The nameservers of a resolv.conf file (resolv.conf(5)): `nameserver` lines with an IPv4 or IPv6 address, at
/// most `maxNameservers` of them, in file order. Other keywords (`search`, `options`, ...) are not used: names are
/// always looked up as written, with the resolver's own timeout and attempts.
///
/// Lines starting with `#` or `;` are comments. Lines longer than `maxLineLength` bytes, addresses that are not
/// plain literals (a zone such as `%eth0` included) and bytes past `maxFileLength` are skipped.
public struct ResolvConf: Sendable, Hashable {
    /// The most nameservers used, as in the C library (MAXNS).
    public static let maxNameservers = 3
    /// The most bytes of the file that are read.
    public static let maxFileLength = 64 * 1024
    /// The longest line that is read; longer lines are skipped whole.
    public static let maxLineLength = 1024
    /// What resolv.conf(5) uses when the file names no nameserver: the local machine.
    public static let defaultNameserver = DNSAddress.v4([127, 0, 0, 1])

    /// The nameservers, in file order; never more than `maxNameservers`, possibly none.
    public var nameservers: [DNSAddress]

    /// Makes a configuration with the given nameservers.
    public init(nameservers: [DNSAddress]) {
        self.nameservers = nameservers
    }

    /// Reads a resolv.conf file's bytes.
    public init(parsing bytes: [UInt8]) {
        nameservers = []
        var content = bytes.prefix(Self.maxFileLength)
        if bytes.count > Self.maxFileLength, let lastNewline = content.lastIndex(of: UInt8(ascii: "\n")) {
            content = content[..<lastNewline]
        }
        for line in content.split(separator: UInt8(ascii: "\n")) where line.count <= Self.maxLineLength {
            let fields = line.split { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\r") }
            guard fields.count >= 2, fields[0].elementsEqual("nameserver".utf8) else { continue }
            guard let address = DNSAddress(literal: String(decoding: fields[1], as: UTF8.self)) else { continue }
            nameservers.append(address)
            if nameservers.count == Self.maxNameservers { break }
        }
    }

    /// Reads a resolv.conf file's text.
    public init(parsing text: String) {
        self.init(parsing: Array(text.utf8))
    }
}
