/// The name-to-address table of a hosts file (hosts(5)): lines of an address followed by names, `#` starting a
/// comment. Lookups ignore ASCII case and a trailing dot.
///
/// Parsing is strict and bounded: only the first `maxFileLength` bytes are read and a final line cut off by that
/// limit is dropped; lines longer than `maxLineLength` bytes, lines whose address is not a plain IPv4 or IPv6
/// literal (no zone), and names that are not valid host names are skipped, never guessed at.
public struct HostsFile: Sendable, Hashable {
    /// The most bytes of a hosts file that are read.
    public static let maxFileLength = 1 << 20
    /// The longest line that is read; longer lines are skipped whole.
    public static let maxLineLength = 4096

    private var table: [String: [DNSAddress]]

    /// An empty table: no name resolves through it.
    public init() {
        table = [:]
    }

    /// Reads a hosts file's bytes.
    public init(parsing bytes: [UInt8]) {
        table = [:]
        var content = bytes[...]
        if content.count > Self.maxFileLength {
            // Keep complete lines only: a line cut in the middle could name a different host than the file does.
            content = content.prefix(Self.maxFileLength)
            if let lastNewline = content.lastIndex(of: UInt8(ascii: "\n")) {
                content = content[..<lastNewline]
            } else {
                content = []
            }
        }
        for line in content.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            guard line.count <= Self.maxLineLength else { continue }
            addLine(line)
        }
    }

    /// Reads a hosts file's text.
    public init(parsing text: String) {
        self.init(parsing: Array(text.utf8))
    }

    private mutating func addLine(_ line: ArraySlice<UInt8>) {
        let data = line.prefix { $0 != UInt8(ascii: "#") }
        let fields = data.split { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\r") }
        guard fields.count >= 2, let address = DNSAddress(literal: String(decoding: fields[0], as: UTF8.self)) else {
            return
        }
        for field in fields.dropFirst() {
            let name = String(decoding: field, as: UTF8.self)
            guard (try? DNSName(validating: name)) != nil else { continue }
            let key = Self.key(name)
            var addresses = table[key, default: []]
            if !addresses.contains(address) {
                addresses.append(address)
                table[key] = addresses
            }
        }
    }

    /// The addresses listed for `host`, in file order, or an empty list when the file does not name it.
    public func addresses(for host: String) -> [DNSAddress] {
        table[Self.key(host)] ?? []
    }

    /// True when no line of the file gave an entry.
    public var isEmpty: Bool { table.isEmpty }

    private static func key(_ name: String) -> String {
        var bytes = Array(name.utf8)
        if bytes.last == UInt8(ascii: ".") { bytes.removeLast() }
        for index in bytes.indices where (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(bytes[index]) {
            bytes[index] |= 0x20
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
