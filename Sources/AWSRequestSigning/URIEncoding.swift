/// SigV4's percent-encoding: every byte of the UTF-8 form except the unreserved `A-Z a-z 0-9 - _ . ~` becomes
/// `%XY` with upper-case hex, and space is `%20` (never `+`).
enum URIEncoding {
    private static let digits = Array("0123456789ABCDEF".utf8)

    static func encode(_ text: some StringProtocol) -> String {
        var out: [UInt8] = []
        for c in text.utf8 {
            if isUnreserved(c) {
                out.append(c)
            } else {
                out += [UInt8(ascii: "%"), digits[Int(c >> 4)], digits[Int(c & 0x0F)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The canonical URI of `path` (which starts with `/`) for a service other than S3: empty and `.` segments
    /// dropped, `..` removing the segment before it, a trailing `/` kept when a segment is left, and each
    /// segment encoded.
    static func canonicalPath(_ path: String) -> String {
        var kept: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) where segment != "." {
            if segment == ".." {
                _ = kept.popLast()
            } else {
                kept.append(segment)
            }
        }
        let trailing = path.hasSuffix("/") && !kept.isEmpty ? "/" : ""
        return "/" + kept.map { encode($0) }.joined(separator: "/") + trailing
    }

    static func isUnreserved(_ c: UInt8) -> Bool {
        AWSCredentials.isAlphanumeric(c) || c == UInt8(ascii: "-") || c == UInt8(ascii: "_") || c == UInt8(ascii: ".")
            || c == UInt8(ascii: "~")
    }
}
