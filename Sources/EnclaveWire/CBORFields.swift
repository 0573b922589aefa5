import CBOR

/// Strict access to the fields of a CBOR map with text keys: the exact key set, each with its type. Every
/// signed structure of the request path is read through it, so a missing, extra or mistyped field is refused.
struct CBORFields {
    let map: CBORMap
    let what: String

    /// Reads `item` as a map holding exactly `required` plus any of `optional`.
    init(_ item: CBOR, what: String, required: Set<String>, optional: Set<String> = []) throws(EnvelopeError) {
        guard case .map(let map) = item else { throw EnvelopeError(.malformed, "\(what) is a \(item.kindName), not a map") }
        var seen = Set<String>()
        for entry in map {
            guard let key = entry.key.text else { throw EnvelopeError(.malformed, "\(what) has a non-text key") }
            guard required.contains(key) || optional.contains(key) else {
                throw EnvelopeError(.malformed, "\(what) has an unknown field \"\(key.prefix(40))\"")
            }
            seen.insert(key)
        }
        if let missing = required.subtracting(seen).sorted().first {
            throw EnvelopeError(.malformed, "\(what) has no \"\(missing)\"")
        }
        self.map = map
        self.what = what
    }

    func has(_ key: String) -> Bool { map[.text(key)] != nil }

    func uint(_ key: String) throws(EnvelopeError) -> UInt64 {
        guard let v = map[.text(key)]?.uint64 else { throw EnvelopeError(.malformed, "\(what).\(key) must be an unsigned integer") }
        return v
    }

    func bytes(_ key: String, count: Int? = nil, max: Int = Int.max) throws(EnvelopeError) -> [UInt8] {
        guard let v = map[.text(key)]?.bytes else { throw EnvelopeError(.malformed, "\(what).\(key) must be a byte string") }
        if let count, v.count != count { throw EnvelopeError(.malformed, "\(what).\(key) must be \(count) bytes, not \(v.count)") }
        guard v.count <= max else { throw EnvelopeError(.malformed, "\(what).\(key) is longer than \(max) bytes") }
        return v
    }

    func text(_ key: String, max: Int) throws(EnvelopeError) -> String {
        guard let v = map[.text(key)]?.text else { throw EnvelopeError(.malformed, "\(what).\(key) must be text") }
        guard !v.isEmpty, v.utf8.count <= max else { throw EnvelopeError(.malformed, "\(what).\(key) must be 1 to \(max) bytes") }
        return v
    }

    func array(_ key: String, max: Int) throws(EnvelopeError) -> [CBOR] {
        guard let v = map[.text(key)]?.array else { throw EnvelopeError(.malformed, "\(what).\(key) must be an array") }
        guard v.count <= max else { throw EnvelopeError(.malformed, "\(what).\(key) has more than \(max) items") }
        return v
    }

    /// Decodes `bytes` with tight bounds for a small signed structure.
    static func decode(_ bytes: [UInt8], what: String, maxSize: Int, maxDepth: Int = 3, maxItems: Int = 256) throws(EnvelopeError) -> CBOR {
        guard bytes.count <= maxSize else { throw EnvelopeError(.malformed, "\(what) is larger than \(maxSize) bytes") }
        do {
            return try CBORDecoder(limits: .init(maxInputSize: maxSize, maxDepth: maxDepth, maxItems: maxItems)).decode(bytes)
        } catch {
            throw EnvelopeError(.malformed, "\(what) is not CBOR within bounds: \(error)")
        }
    }
}

/// Why a signed structure of the request path (receipt, seal, signed response, identity claims) was refused
/// as bytes, before any signature is looked at. Equality compares the code only.
public struct EnvelopeError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable {
        /// Not the structure: wrong CBOR, missing, extra or mistyped fields, out-of-range values.
        case malformed
        /// A structure version this build does not read.
        case unsupportedVersion
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public static func == (a: EnvelopeError, b: EnvelopeError) -> Bool { a.code == b.code }
    public func hash(into h: inout Hasher) { h.combine(code) }
    public var description: String { "\(code.rawValue): \(message)" }
}
