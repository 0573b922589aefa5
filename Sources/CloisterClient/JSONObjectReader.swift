import NitroAttestation

/// A JSON object read strictly from untrusted bytes (a file, a network answer): a size bound before parsing, no key
/// but the known ones, the required ones present, and every field of its type and within its bounds. Each failure is
/// a `JSONObjectReader.Failure` saying which field broke which rule; callers wrap it in their own error code.
public struct JSONObjectReader: Sendable {
    /// Why the bytes are not the object expected.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    let fields: [String: JSONValue]

    /// Reads `bytes` as a JSON object of at most `maxBytes`, whose keys are among `keys` and include `required`.
    public init(_ bytes: [UInt8], maxBytes: Int, keys: Set<String>, required: Set<String>) throws(Failure) {
        guard bytes.count <= maxBytes else { throw Failure("\(bytes.count) bytes; at most \(maxBytes)") }
        guard let value = try? JSONValue.parse(bytes), let object = value.object else { throw Failure("not a JSON object") }
        for key in object.keys.sorted() where !keys.contains(key) { throw Failure("unknown key \"\(key.prefix(40))\"") }
        for key in required.sorted() where object[key] == nil { throw Failure("\"\(key)\" is missing") }
        fields = object
    }

    /// Whether the object has `key`.
    public func has(_ key: String) -> Bool { fields[key] != nil }

    /// The string at `key`, of 1 to `maxBytes` UTF-8 bytes.
    public func string(_ key: String, maxBytes: Int) throws(Failure) -> String {
        guard let s = fields[key]?.string, !s.isEmpty, s.utf8.count <= maxBytes else {
            throw Failure("\"\(key)\" must be a string of 1 to \(maxBytes) bytes")
        }
        return s
    }

    /// The string at `key`, which must be one of `allowed`.
    public func oneOf(_ key: String, _ allowed: [String]) throws(Failure) -> String {
        guard let s = fields[key]?.string, allowed.contains(s) else {
            throw Failure("\"\(key)\" must be one of \(allowed.joined(separator: ", "))")
        }
        return s
    }

    /// The bytes of the lower-case hex string at `key`, which must be `count` bytes.
    public func hex(_ key: String, count: Int) throws(Failure) -> [UInt8] {
        guard let s = fields[key]?.string, s == s.lowercased(), let bytes = Hex.decode(s), bytes.count == count else {
            throw Failure("\"\(key)\" must be \(count * 2) lower-case hex digits")
        }
        return bytes
    }

    /// The whole number at `key`, at most 2^53 (JSON numbers are doubles beyond that).
    public func uint(_ key: String) throws(Failure) -> UInt64 {
        guard let n = fields[key]?.number, n >= 0, n < 9e15, n == n.rounded() else { throw Failure("\"\(key)\" must be a whole number") }
        return UInt64(n)
    }

    /// The array of canonical base64 strings at `key`: at most `maxCount`, each at most `maxBytes` decoded.
    public func base64List(_ key: String, maxCount: Int, maxBytes: Int) throws(Failure) -> [[UInt8]] {
        guard let items = fields[key]?.items, items.count <= maxCount else {
            throw Failure("\"\(key)\" must be an array of at most \(maxCount) base64 strings")
        }
        var out: [[UInt8]] = []
        for (i, item) in items.enumerated() {
            guard let text = item.string, text.utf8.count <= (maxBytes + 2) / 3 * 4, let bytes = Base64.decode(text), bytes.count <= maxBytes,
                Base64.encode(bytes) == text
            else {
                throw Failure("\"\(key)\"[\(i)] must be canonical base64 of at most \(maxBytes) bytes")
            }
            out.append(bytes)
        }
        return out
    }
}
