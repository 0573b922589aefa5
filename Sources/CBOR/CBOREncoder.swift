/// Encodes `CBOR` values deterministically: definite lengths, shortest integer and length forms,
/// map entries in the order the map holds them. The same value always yields the same bytes.
public enum CBOREncoder {
    /// The encoding of `value`.
    public static func encode(_ value: CBOR) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        append(value, to: &out)
        return out
    }

    /// Appends the encoding of `value` to `out`.
    public static func append(_ value: CBOR, to out: inout [UInt8]) {
        switch value {
        case .unsigned(let n): appendHead(major: 0, n, to: &out)
        case .negative(let n): appendHead(major: 1, n, to: &out)
        case .bytes(let b):
            appendHead(major: 2, UInt64(b.count), to: &out)
            out.append(contentsOf: b)
        case .text(let s):
            let utf8 = Array(s.utf8)
            appendHead(major: 3, UInt64(utf8.count), to: &out)
            out.append(contentsOf: utf8)
        case .array(let items):
            appendHead(major: 4, UInt64(items.count), to: &out)
            for item in items { append(item, to: &out) }
        case .map(let map):
            appendHead(major: 5, UInt64(map.count), to: &out)
            for entry in map {
                append(entry.key, to: &out)
                append(entry.value, to: &out)
            }
        case .tagged(let tag, let item):
            appendHead(major: 6, tag, to: &out)
            append(item, to: &out)
        case .bool(let b): out.append(b ? 0xF5 : 0xF4)
        case .null: out.append(0xF6)
        case .undefined: out.append(0xF7)
        case .float(let d):
            // Shortest of single and double that keeps the value exactly (NaN is written as a double).
            let f = Float(d)
            if Double(f) == d {
                out.append(0xFA)
                appendBigEndian(UInt64(f.bitPattern), bytes: 4, to: &out)
            } else {
                out.append(0xFB)
                appendBigEndian(d.bitPattern, bytes: 8, to: &out)
            }
        }
    }

    /// Appends a head (major type and argument) in its shortest form.
    public static func appendHead(major: UInt8, _ argument: UInt64, to out: inout [UInt8]) {
        let m = major << 5
        switch argument {
        case 0..<24: out.append(m | UInt8(argument))
        case 24...0xFF:
            out.append(m | 24)
            out.append(UInt8(argument))
        case 0x100...0xFFFF:
            out.append(m | 25)
            appendBigEndian(argument, bytes: 2, to: &out)
        case 0x1_0000...0xFFFF_FFFF:
            out.append(m | 26)
            appendBigEndian(argument, bytes: 4, to: &out)
        default:
            out.append(m | 27)
            appendBigEndian(argument, bytes: 8, to: &out)
        }
    }

    private static func appendBigEndian(_ v: UInt64, bytes: Int, to out: inout [UInt8]) {
        for i in stride(from: bytes - 1, through: 0, by: -1) {
            out.append(UInt8(truncatingIfNeeded: v >> (UInt64(i) * 8)))
        }
    }
}

extension CBOR {
    /// The deterministic encoding of this value.
    public var encoded: [UInt8] { CBOREncoder.encode(self) }
}
