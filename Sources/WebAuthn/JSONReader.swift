/// A strict, bounded JSON reader (RFC 8259) for client data, written here because Foundation's decoder keeps
/// the last of a repeated member without saying so.
///
/// Refused: anything but one object (with the four JSON whitespace characters around it), invalid UTF-8, a
/// byte order mark, a member named twice in any object (names compared as decoded code points), control
/// characters in strings, unknown escapes, unpaired surrogates, numbers off the grammar, and nesting deeper
/// than `maxDepth`. Members whose values are not strings or booleans are read and checked, then kept only as
/// "another value".
struct JSONReader {
    /// A member's value as client data needs it.
    enum Value: Equatable {
        case string(String)
        case bool(Bool)
        /// null, a number, an array or an object: checked, not kept.
        case other
    }

    let bytes: [UInt8]
    let maxDepth: Int
    var offset = 0

    /// The members of the one object `bytes` holds, in order.
    static func members(of bytes: [UInt8], maxDepth: Int) throws(WebAuthnError) -> [(name: String, value: Value)] {
        guard String(validating: bytes, as: UTF8.self) != nil else { throw malformed("is not valid UTF-8") }
        guard !bytes.starts(with: [0xEF, 0xBB, 0xBF]) else { throw malformed("starts with a byte order mark") }
        var reader = JSONReader(bytes: bytes, maxDepth: maxDepth)
        reader.skipWhitespace()
        guard reader.peek == UInt8(ascii: "{") else { throw malformed("is not a JSON object") }
        let members = try reader.object(depth: 1)
        reader.skipWhitespace()
        guard reader.offset == bytes.count else {
            throw malformed("has \(bytes.count - reader.offset) bytes after the object")
        }
        return members
    }

    var peek: UInt8? { offset < bytes.count ? bytes[offset] : nil }

    mutating func skipWhitespace() {
        while let c = peek, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { offset += 1 }
    }

    mutating func expect(_ c: UInt8) throws(WebAuthnError) {
        guard peek == c else { throw Self.malformed("expected '\(Character(Unicode.Scalar(c)))' at byte \(offset)") }
        offset += 1
    }

    /// An object at `offset` (which holds '{'); its members in order.
    mutating func object(depth: Int) throws(WebAuthnError) -> [(name: String, value: Value)] {
        guard depth <= maxDepth else { throw Self.malformed("nests deeper than \(maxDepth) at byte \(offset)") }
        try expect(UInt8(ascii: "{"))
        var members: [(name: String, value: Value)] = []
        var names: Set<[UInt8]> = []
        skipWhitespace()
        if peek == UInt8(ascii: "}") {
            offset += 1
            return members
        }
        while true {
            skipWhitespace()
            let nameOffset = offset
            let name = try string()
            // Code points, not Swift's canonical equivalence: "\u00e9" and "e\u0301" are two names.
            guard names.insert(Array(name.utf8)).inserted else {
                throw WebAuthnError(
                    .clientDataDuplicateMember,
                    "member \"\(name.prefix(40))\" appears again at byte \(nameOffset)"
                )
            }
            skipWhitespace()
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            members.append((name, try value(depth: depth)))
            skipWhitespace()
            if peek == UInt8(ascii: ",") {
                offset += 1
                continue
            }
            try expect(UInt8(ascii: "}"))
            return members
        }
    }

    mutating func array(depth: Int) throws(WebAuthnError) {
        guard depth <= maxDepth else { throw Self.malformed("nests deeper than \(maxDepth) at byte \(offset)") }
        try expect(UInt8(ascii: "["))
        skipWhitespace()
        if peek == UInt8(ascii: "]") {
            offset += 1
            return
        }
        while true {
            skipWhitespace()
            _ = try value(depth: depth)
            skipWhitespace()
            if peek == UInt8(ascii: ",") {
                offset += 1
                continue
            }
            try expect(UInt8(ascii: "]"))
            return
        }
    }

    /// A value inside a container at `depth`.
    mutating func value(depth: Int) throws(WebAuthnError) -> Value {
        guard let c = peek else { throw Self.malformed("ends where a value should be") }
        switch c {
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "{"):
            _ = try object(depth: depth + 1)
            return .other
        case UInt8(ascii: "["):
            try array(depth: depth + 1)
            return .other
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .other
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try number()
            return .other
        default:
            throw Self.malformed("no JSON value at byte \(offset)")
        }
    }

    mutating func literal(_ word: String) throws(WebAuthnError) {
        let expected = Array(word.utf8)
        guard bytes.count - offset >= expected.count, Array(bytes[offset..<offset + expected.count]) == expected else {
            throw Self.malformed("expected \(word) at byte \(offset)")
        }
        offset += expected.count
    }

    /// -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
    mutating func number() throws(WebAuthnError) {
        let start = offset
        if peek == UInt8(ascii: "-") { offset += 1 }
        if peek == UInt8(ascii: "0") {
            offset += 1
        } else {
            guard try digits() > 0 else { throw Self.malformed("a number without digits at byte \(start)") }
        }
        if peek == UInt8(ascii: ".") {
            offset += 1
            guard try digits() > 0 else { throw Self.malformed("a fraction without digits at byte \(start)") }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            offset += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { offset += 1 }
            guard try digits() > 0 else { throw Self.malformed("an exponent without digits at byte \(start)") }
        }
    }

    mutating func digits() throws(WebAuthnError) -> Int {
        let start = offset
        while let c = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) { offset += 1 }
        return offset - start
    }

    /// A string at `offset` (which must hold '"'), escapes decoded.
    mutating func string() throws(WebAuthnError) -> String {
        let start = offset
        try expect(UInt8(ascii: "\""))
        var out: [UInt8] = []
        while true {
            guard let c = peek else { throw Self.malformed("a string from byte \(start) does not end") }
            offset += 1
            switch c {
            case UInt8(ascii: "\""):
                // The input is valid UTF-8 and escapes add whole scalars, so this cannot fail.
                guard let s = String(validating: out, as: UTF8.self) else {
                    throw Self.malformed("a string from byte \(start) is not UTF-8")
                }
                return s
            case UInt8(ascii: "\\"):
                try escape(into: &out)
            case 0x00..<0x20:
                throw Self.malformed("a control character in a string at byte \(offset - 1)")
            default:
                out.append(c)
            }
        }
    }

    mutating func escape(into out: inout [UInt8]) throws(WebAuthnError) {
        guard let c = peek else { throw Self.malformed("input ends inside an escape") }
        offset += 1
        switch c {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(c)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var unit = try hex4()
            if (0xD800...0xDBFF).contains(unit) {
                guard peek == UInt8(ascii: "\\"), offset + 1 < bytes.count, bytes[offset + 1] == UInt8(ascii: "u")
                else {
                    throw Self.malformed("an unpaired high surrogate at byte \(offset)")
                }
                offset += 2
                let low = try hex4()
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw Self.malformed("a high surrogate without its low half at byte \(offset)")
                }
                unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(unit) {
                throw Self.malformed("an unpaired low surrogate at byte \(offset)")
            }
            out += Array(String(Character(Unicode.Scalar(unit)!)).utf8)
        default:
            throw Self.malformed("unknown escape \\\(Character(Unicode.Scalar(c))) at byte \(offset - 2)")
        }
    }

    mutating func hex4() throws(WebAuthnError) -> UInt32 {
        guard bytes.count - offset >= 4 else { throw Self.malformed("input ends inside a \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[offset]
            let digit: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = c - UInt8(ascii: "A") + 10
            default: throw Self.malformed("a \\u escape with a non-hex digit at byte \(offset)")
            }
            v = v << 4 | UInt32(digit)
            offset += 1
        }
        return v
    }

    static func malformed(_ what: String) -> WebAuthnError {
        WebAuthnError(.clientDataMalformed, "clientDataJSON \(what)")
    }
}
