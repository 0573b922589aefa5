/// One CBOR data item (RFC 8949).
///
/// Byte strings keep the exact bytes that were received, and maps keep their entries in the order they
/// were decoded or built, so a value decoded from untrusted input can be inspected without re-encoding,
/// and a value built by Cloister encodes to the same bytes every time.
public indirect enum CBOR: Hashable, Sendable {
    /// Major type 0: an unsigned integer.
    case unsigned(UInt64)
    /// Major type 1: the integer `-1 - n`.
    case negative(UInt64)
    /// Major type 2: a byte string (indefinite-length strings are joined).
    case bytes([UInt8])
    /// Major type 3: a UTF-8 text string (validated on decode).
    case text(String)
    /// Major type 4: an array.
    case array([CBOR])
    /// Major type 5: a map, entries in order, keys unique.
    case map(CBORMap)
    /// Major type 6: a tagged item.
    case tagged(UInt64, CBOR)
    /// `true` or `false`.
    case bool(Bool)
    /// `null`.
    case null
    /// `undefined`.
    case undefined
    /// A half, single or double precision float, held as a double.
    case float(Double)
}

extension CBOR {
    /// An integer item: unsigned for values >= 0, negative otherwise.
    public static func int(_ value: Int64) -> CBOR {
        value >= 0 ? .unsigned(UInt64(value)) : .negative(UInt64(-(value + 1)))
    }

    /// The value as a signed integer, if it is an integer that fits in `Int64`.
    public var int64: Int64? {
        switch self {
        case .unsigned(let n): return n <= UInt64(Int64.max) ? Int64(n) : nil
        case .negative(let n): return n <= UInt64(Int64.max) ? -1 - Int64(n) : nil
        default: return nil
        }
    }

    /// The value as an unsigned integer, if it is major type 0.
    public var uint64: UInt64? {
        if case .unsigned(let n) = self { return n }
        return nil
    }

    /// The bytes of a byte string.
    public var bytes: [UInt8]? {
        if case .bytes(let b) = self { return b }
        return nil
    }

    /// The string of a text string.
    public var text: String? {
        if case .text(let s) = self { return s }
        return nil
    }

    /// The elements of an array.
    public var array: [CBOR]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The entries of a map.
    public var map: CBORMap? {
        if case .map(let m) = self { return m }
        return nil
    }

    /// The value of a boolean.
    public var bool: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// True for `null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// A short name of the item's kind, for error messages.
    public var kindName: String {
        switch self {
        case .unsigned: return "unsigned integer"
        case .negative: return "negative integer"
        case .bytes: return "byte string"
        case .text: return "text string"
        case .array: return "array"
        case .map: return "map"
        case .tagged: return "tagged item"
        case .bool: return "boolean"
        case .null: return "null"
        case .undefined: return "undefined"
        case .float: return "float"
        }
    }
}

extension CBOR: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: CBOR...) { self = .array(elements) }
    public init(nilLiteral: ()) { self = .null }
}
