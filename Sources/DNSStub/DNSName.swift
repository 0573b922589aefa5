/// A domain name as a list of labels, without the root label. Names compare ASCII case-insensitively, as
/// RFC 4343 requires, because servers may echo a question in another case.
struct DNSName: Sendable, CustomStringConvertible {
    /// The labels, most specific first. Each holds 1 to 63 bytes.
    var labels: [[UInt8]]

    /// The longest name as text, without the trailing dot (RFC 1035 section 2.3.4 less the length bytes).
    static let maxTextLength = 253
    /// The longest name on the wire, length bytes and the root label included.
    static let maxWireLength = 255
    /// The longest label.
    static let maxLabelLength = 63

    init(labels: [[UInt8]]) {
        self.labels = labels
    }

    /// Checks a host name someone asked for: ASCII letters, digits, hyphens and underscores (service labels such
    /// as `_dns`), labels of 1 to 63 bytes, at most 253 characters, and an optional trailing dot.
    init(validating text: String) throws(DNSError) {
        var bytes = Array(text.utf8)
        if bytes.last == UInt8(ascii: ".") { bytes.removeLast() }
        guard !bytes.isEmpty else { throw DNSError(.emptyLabel, "the name is empty") }
        guard bytes.count <= Self.maxTextLength else {
            throw DNSError(.nameTooLong, "the name has \(bytes.count) characters; at most \(Self.maxTextLength)")
        }
        var labels: [[UInt8]] = []
        for label in bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            guard !label.isEmpty else { throw DNSError(.emptyLabel, "the name \"\(text)\" has an empty label") }
            guard label.count <= Self.maxLabelLength else {
                throw DNSError(.labelTooLong, "a label has \(label.count) bytes; at most \(Self.maxLabelLength)")
            }
            guard label.allSatisfy(Self.isHostNameByte) else {
                throw DNSError(
                    .invalidCharacter,
                    "the name \"\(text.prefix(64))\" has a character other than a-z 0-9 - _"
                )
            }
            labels.append(Array(label))
        }
        self.labels = labels
    }

    private static func isHostNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
            true
        default:
            false
        }
    }

    /// Bytes on the wire, uncompressed: a length byte per label, the labels, and the root label.
    var wireLength: Int { labels.reduce(1) { $0 + 1 + $1.count } }

    /// Appends the name uncompressed.
    func encode(into bytes: inout [UInt8]) {
        for label in labels {
            bytes.append(UInt8(label.count))
            bytes.append(contentsOf: label)
        }
        bytes.append(0)
    }

    /// True when both names have the same labels, ignoring ASCII case.
    func matches(_ other: DNSName) -> Bool {
        labels.count == other.labels.count && zip(labels, other.labels).allSatisfy(Self.labelsMatch)
    }

    /// True when this name equals `ancestor` or lies below it, ignoring ASCII case.
    func isWithin(_ ancestor: DNSName) -> Bool {
        guard ancestor.labels.count <= labels.count else { return false }
        return zip(labels.suffix(ancestor.labels.count), ancestor.labels).allSatisfy(Self.labelsMatch)
    }

    private static func labelsMatch(_ pair: ([UInt8], [UInt8])) -> Bool {
        pair.0.count == pair.1.count && zip(pair.0, pair.1).allSatisfy { lowercased($0) == lowercased($1) }
    }

    private static func lowercased(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
    }

    /// The name as text with a trailing dot; bytes outside printable ASCII, dots and backslashes in a label are
    /// escaped as `\DDD` (RFC 1035 section 5.1), so a hostile label cannot pass for two.
    var description: String {
        guard !labels.isEmpty else { return "." }
        var text = ""
        for label in labels {
            for byte in label {
                if byte > 0x20 && byte < 0x7F && byte != UInt8(ascii: ".") && byte != UInt8(ascii: "\\") {
                    text.unicodeScalars.append(Unicode.Scalar(byte))
                } else {
                    let digits = String(byte)
                    text += "\\" + String(repeating: "0", count: 3 - digits.count) + digits
                }
            }
            text += "."
        }
        return text
    }
}
