/// An IPv4 or IPv6 address in network byte order. Addresses made by this module (`DNSMessage`, `init(bytes:)`,
/// `init(literal:)`) always hold 4 bytes for `v4` and 16 for `v6`.
public enum DNSAddress: Sendable, Hashable, CustomStringConvertible {
    /// An IPv4 address: 4 bytes.
    case v4([UInt8])
    /// An IPv6 address: 16 bytes.
    case v6([UInt8])

    /// Makes a `v4` address from 4 bytes or a `v6` address from 16; any other count gives nil.
    public init?(bytes: [UInt8]) {
        switch bytes.count {
        case 4: self = .v4(bytes)
        case 16: self = .v6(bytes)
        default: return nil
        }
    }

    /// Parses an address written as text: dotted-quad IPv4 (`192.0.2.1`, no leading zeros, which some parsers
    /// read as octal) or IPv6 as RFC 4291 section 2.2 writes it (`2001:db8::1`, `::ffff:192.0.2.1`), without
    /// brackets or a zone (`%eth0`). Gives nil for anything else.
    public init?(literal: String) {
        let text = Array(literal.utf8)
        // The longest IPv6 text form is 45 characters (eight groups with an IPv4 tail); anything longer is not
        // an address, and refusing it early bounds the work.
        guard !text.isEmpty, text.count <= 45 else { return nil }
        if text.contains(UInt8(ascii: ":")) {
            guard let bytes = Self.parseIPv6(text[...]) else { return nil }
            self = .v6(bytes)
        } else {
            guard let bytes = Self.parseIPv4(text[...]) else { return nil }
            self = .v4(bytes)
        }
    }

    /// The address bytes in network byte order.
    public var bytes: [UInt8] {
        switch self {
        case .v4(let bytes), .v6(let bytes): bytes
        }
    }

    /// The address as text: dotted quad for IPv4, RFC 5952 canonical form for IPv6. `init(literal:)` reads it back.
    public var description: String {
        switch self {
        case .v4(let bytes):
            return bytes.map { String($0) }.joined(separator: ".")
        case .v6(let bytes):
            guard bytes.count == 16 else { return "<\(bytes.count)-byte IPv6 address>" }
            return Self.formatIPv6(bytes)
        }
    }

    // MARK: - Text forms

    static func parseIPv4(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        let parts = text.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(4)
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            // A leading zero makes "010" octal (8) to inet_aton but decimal (10) to others; refuse the ambiguity.
            guard part.count == 1 || part.first != UInt8(ascii: "0") else { return nil }
            let value = part.reduce(0) { $0 * 10 + Int($1 - 0x30) }
            guard value <= 255 else { return nil }
            bytes.append(UInt8(value))
        }
        return bytes
    }

    static func parseIPv6(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        guard !text.contains(UInt8(ascii: "%")) else { return nil }
        var groups: [UInt16]
        if let gap = firstDoubleColon(text) {
            guard let head = parseGroups(text[text.startIndex..<gap], allowIPv4Tail: false),
                let tail = parseGroups(text[(gap + 2)...], allowIPv4Tail: true),
                head.count + tail.count <= 7
            else { return nil }
            groups = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            guard let all = parseGroups(text, allowIPv4Tail: true), all.count == 8 else { return nil }
            groups = all
        }
        return groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    private static func firstDoubleColon(_ text: ArraySlice<UInt8>) -> Int? {
        var index = text.startIndex
        while index + 1 < text.endIndex {
            if text[index] == UInt8(ascii: ":") && text[index + 1] == UInt8(ascii: ":") { return index }
            index += 1
        }
        return nil
    }

    /// Colon-separated groups of 1 to 4 hex digits; the last may be a dotted quad, which counts as two groups.
    private static func parseGroups(_ text: ArraySlice<UInt8>, allowIPv4Tail: Bool) -> [UInt16]? {
        if text.isEmpty { return [] }
        let parts = text.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        guard parts.count <= 8 else { return nil }
        var groups: [UInt16] = []
        for (index, part) in parts.enumerated() {
            if allowIPv4Tail, index == parts.count - 1, part.contains(UInt8(ascii: ".")) {
                guard let quad = parseIPv4(part) else { return nil }
                groups.append(UInt16(quad[0]) << 8 | UInt16(quad[1]))
                groups.append(UInt16(quad[2]) << 8 | UInt16(quad[3]))
                continue
            }
            guard (1...4).contains(part.count) else { return nil }
            var value: UInt16 = 0
            for byte in part {
                guard let digit = hexValue(byte) else { return nil }
                value = value << 4 | UInt16(digit)
            }
            groups.append(value)
        }
        return groups
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// RFC 5952: lowercase, no leading zeros, the longest run of two or more zero groups (the first on a tie)
    /// as `::`, and IPv4-mapped addresses with a dotted-quad tail.
    private static func formatIPv6(_ bytes: [UInt8]) -> String {
        let groups = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        if groups[0..<5].allSatisfy({ $0 == 0 }) && groups[5] == 0xFFFF {
            return "::ffff:" + bytes[12...].map { String($0) }.joined(separator: ".")
        }
        var bestStart = -1
        var bestLength = 1
        var runStart = -1
        for index in 0...8 {
            if index < 8 && groups[index] == 0 {
                if runStart < 0 { runStart = index }
            } else if runStart >= 0 {
                if index - runStart > bestLength {
                    bestStart = runStart
                    bestLength = index - runStart
                }
                runStart = -1
            }
        }
        let hex = groups.map { String($0, radix: 16) }
        guard bestStart >= 0 else { return hex.joined(separator: ":") }
        let head = hex[..<bestStart].joined(separator: ":")
        let tail = hex[(bestStart + bestLength)...].joined(separator: ":")
        return head + "::" + tail
    }
}
