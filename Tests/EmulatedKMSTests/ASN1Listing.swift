import Foundation

/// What `openssl asn1parse` prints of a DER encoding, one row per element, in order.
struct ASN1Listing {
    /// One element: where it starts, how deep it sits, its header and contents lengths, and how openssl names it.
    struct Row: Equatable, CustomStringConvertible {
        var offset: Int
        var depth: Int
        var headerLength: Int
        var length: Int
        var constructed: Bool
        /// openssl's name for the tag: `SEQUENCE`, `OBJECT`, `cont [ 0 ]`, ...
        var type: String
        /// What follows the type: an object's name, an integer in hex, or nothing; `[HEX DUMP]` values are left out
        /// (they are the random parts), see `contents(of:in:)` for the bytes.
        var value: String

        var description: String { "\(offset):d=\(depth) hl=\(headerLength) l=\(length) \(type) \(value)" }
    }

    let rows: [Row]

    /// The rows of `output`, which must be asn1parse's listing of a definite-length encoding.
    init(_ output: String) throws {
        rows = try output.split(separator: "\n").map { line throws(ListingError) in try Self.row(String(line)) }
    }

    /// The contents octets of `row` in `der`, the encoding it lists.
    static func contents(of row: Row, in der: [UInt8]) -> [UInt8] {
        Array(der[(row.offset + row.headerLength)..<(row.offset + row.headerLength + row.length)])
    }

    struct ListingError: Error { let line: String }

    // "  133:d=5  hl=4 l= 256 prim: OCTET STRING      [HEX DUMP]:A061...",
    // "   73:d=6  hl=2 l=   9 prim: OBJECT            :rsaesOaep"
    private static func row(_ line: String) throws(ListingError) -> Row {
        let pattern = /^\s*(\d+):d=(\d+)\s+hl=(\d+)\s+l=\s*(\d+)\s+(prim|cons):\s*([^:]*?)\s*(?::(.*))?$/
        guard let match = try? pattern.wholeMatch(in: line), let offset = Int(match.1), let depth = Int(match.2),
            let header = Int(match.3), let length = Int(match.4)
        else { throw ListingError(line: line) }
        var type = String(match.6)
        var value = match.7.map(String.init) ?? ""
        if type.hasSuffix("[HEX DUMP]") {
            type = type.dropLast("[HEX DUMP]".count).trimmingCharacters(in: .whitespaces)
            value = ""
        }
        return Row(
            offset: offset,
            depth: depth,
            headerLength: header,
            length: length,
            constructed: match.5 == "cons",
            type: type,
            value: value
        )
    }
}
