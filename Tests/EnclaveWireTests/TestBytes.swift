import CBOR
import Testing

@testable import EnclaveWire

/// `count` copies of `byte`: distinct fill bytes keep the hashes and keys of a fixture apart at a glance.
func filled(_ byte: UInt8, _ count: Int = 32) -> [UInt8] { [UInt8](repeating: byte, count: count) }

func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0F)]] })
}

/// An input a parser must refuse, and the code it must refuse it with. The name is what a failing run shows,
/// instead of the bytes.
struct Refusal<Code: Hashable & Sendable>: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let code: Code

    init(_ name: String, bytes: [UInt8], _ code: Code) {
        self.name = name
        self.bytes = bytes
        self.code = code
    }

    /// An array literal here is a CBOR item: raw bytes take the `bytes:` label.
    init(_ name: String, _ item: CBOR, _ code: Code) { self.init(name, bytes: CBOREncoder.encode(item), code) }

    var testDescription: String { name }
}

/// Parses every proper prefix of `bytes`, the empty one included, and expects each to be refused with
/// `expected`. CBOR is prefix-free, so no prefix of a valid message is itself a message.
func expectEveryPrefixRefused<E: Error & Equatable>(
    _ bytes: [UInt8], with expected: E, sourceLocation: SourceLocation = #_sourceLocation,
    _ parse: ([UInt8]) throws(E) -> Void
) {
    var wrong: [Int] = []
    for length in 0..<bytes.count {
        do {
            try parse(Array(bytes[..<length]))
            wrong.append(length)
        } catch {
            if error != expected { wrong.append(length) }
        }
    }
    #expect(
        wrong.isEmpty, "prefixes of these lengths were not refused with \(expected): \(wrong)",
        sourceLocation: sourceLocation)
}

/// A truncated signed structure is not CBOR, which the structures report as `.malformed`.
func expectEveryTruncationRefused(
    _ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation,
    by parse: ([UInt8]) throws(EnvelopeError) -> Void
) {
    expectEveryPrefixRefused(bytes, with: EnvelopeError(.malformed, ""), sourceLocation: sourceLocation, parse)
}

/// A truncated bridge message is not CBOR: `.malformedCBOR`, before its fields are looked at.
func expectEveryTruncationRefused(
    _ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation, by parse: ([UInt8]) throws(WireError) -> Void
) {
    expectEveryPrefixRefused(bytes, with: WireError(.malformedCBOR), sourceLocation: sourceLocation, parse)
}

func expectRefused(
    _ refusal: Refusal<EnvelopeError.Code>, sourceLocation: SourceLocation = #_sourceLocation,
    by parse: ([UInt8]) throws(EnvelopeError) -> Void
) {
    #expect(throws: EnvelopeError(refusal.code, ""), sourceLocation: sourceLocation) { try parse(refusal.bytes) }
}

func expectRefused(
    _ refusal: Refusal<WireError.Code>, sourceLocation: SourceLocation = #_sourceLocation,
    by parse: ([UInt8]) throws(WireError) -> Void
) {
    #expect(throws: WireError(refusal.code), sourceLocation: sourceLocation) { try parse(refusal.bytes) }
}

/// For a protocol of `[tag, fields...]` arrays: the first message of each tag in `messages`, without its last
/// field and with one field more.
func fieldCountRefusals<Message>(_ messages: [Message], encode: (Message) -> [UInt8]) -> [Refusal<WireError.Code>] {
    var out: [Refusal<WireError.Code>] = []
    var named = Set<Substring>()
    for message in messages {
        let name = String(describing: message).prefix { $0 != "(" }
        guard named.insert(name).inserted, let fields = (try? CBORDecoder.decode(encode(message)))?.array else {
            continue
        }
        out.append(Refusal("\(name) without its last field", .array(fields.dropLast()), .malformedMessage))
        out.append(Refusal("\(name) with an extra field", .array(fields + [0]), .malformedMessage))
    }
    return out
}

// MARK: - Text-keyed maps, the form of every signed structure

/// A text-keyed map in the given order, as the signed structures are written.
func encodeFields(_ fields: [(String, CBOR)]) -> [UInt8] {
    CBOREncoder.encode(.map(CBORMap(fields.map { (.text($0.0), $0.1) })))
}

/// A text-keyed map whose values are already encoded, so that a value can be written in a form the encoder
/// never produces (a longer head, an indefinite length) or a key can repeat.
func encodeRawFields(_ fields: [(String, [UInt8])], head: [UInt8]? = nil) -> [UInt8] {
    var out: [UInt8] = []
    if let head { out += head } else { CBOREncoder.appendHead(major: 5, UInt64(fields.count), to: &out) }
    for (key, value) in fields {
        CBOREncoder.append(.text(key), to: &out)
        out += value
    }
    return out
}

func replacing(_ fields: [(String, CBOR)], _ key: String, with value: CBOR) -> [(String, CBOR)] {
    fields.map { $0.0 == key ? ($0.0, value) : $0 }
}

/// `fields` encoded with the value under `key` replaced.
func encodeFields(_ fields: [(String, CBOR)], setting key: String, to value: CBOR) -> [UInt8] {
    encodeFields(replacing(fields, key, with: value))
}

/// Pins an encoding byte for byte without restating it: `fields` (the tables' view of it) encode to it, and its
/// SHA-256 is `sha256`, computed with another encoder.
func expectEncoding(
    _ encoded: [UInt8], of fields: [(String, CBOR)], sha256: String, sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(encodeFields(fields) == encoded, sourceLocation: sourceLocation)
    #expect(hex(Receipt.hash(encoded: encoded)) == sha256, sourceLocation: sourceLocation)
}

/// One item of each CBOR kind, to put where a field of another kind belongs.
let itemOfEveryKind: [CBOR] = [
    .unsigned(1), .negative(0), .bytes([1]), .text("x"), .array([]), .map(CBORMap()), .tagged(24, .bytes([1])),
    .bool(true), .null, .undefined, .float(1.5),
]

/// The refusals every strict text-keyed map shares, derived from its valid `fields`: each field missing, an
/// unknown field (first and last), a field under a non-text key, a repeated key, each field holding an item
/// of every other kind, and things that are not a map at all. All of them are `.malformed`.
func strictMapRefusals(_ fields: [(String, CBOR)]) -> [Refusal<EnvelopeError.Code>] {
    var out: [Refusal<EnvelopeError.Code>] = []
    func add(_ name: String, _ bytes: [UInt8]) { out.append(Refusal(name, bytes: bytes, .malformed)) }
    let (firstKey, firstValue) = fields[0]
    let rest = fields.dropFirst().map { (CBOR.text($0.0), $0.1) }
    for (key, _) in fields {
        add("no \(key)", encodeFields(fields.filter { $0.0 != key }))
    }
    add("unknown field last", encodeFields(fields + [("x", .unsigned(1))]))
    add("unknown field first", encodeFields([("x", .unsigned(1))] + fields))
    add("key that differs in case", encodeFields(fields + [(firstKey.uppercased(), firstValue)]))
    add("integer key", CBOREncoder.encode(.map(CBORMap([(.text(firstKey), firstValue)] + rest + [(1, 1)]))))
    // The same number of entries with one key changed, for structures whose item bound leaves no room for one more.
    add("\(firstKey) renamed", encodeFields([("x", firstValue)] + fields.dropFirst()))
    add("\(firstKey) under an integer key", CBOREncoder.encode(.map(CBORMap([(0, firstValue)] + rest))))
    let bytesKey = CBOR.bytes(Array(firstKey.utf8))
    add("\(firstKey) under a byte-string key", CBOREncoder.encode(.map(CBORMap([(bytesKey, firstValue)] + rest))))
    let raw = fields.map { ($0.0, CBOREncoder.encode($0.1)) }
    add("repeated key", encodeRawFields(raw + [raw[0]]))
    for (key, value) in fields {
        for other in itemOfEveryKind where other.kindName != value.kindName {
            add("\(key) as \(other.kindName)", encodeFields(fields, setting: key, to: other))
        }
    }
    add("empty input", [])
    add("empty map", CBOREncoder.encode(.map(CBORMap())))
    add("array of the values", CBOREncoder.encode(.array(fields.map(\.1))))
    add("tagged map", CBOREncoder.encode(.tagged(55799, .map(CBORMap([(.text(firstKey), firstValue)] + rest)))))
    let valid = encodeFields(fields)
    add("a trailing byte", valid + [0x00])
    add("twice", valid + valid)
    return out
}

/// Each of `keys` holding a byte string of each of `lengths` instead of its fixed length.
func fixedLengthRefusals(_ fields: [(String, CBOR)], keys: [String], lengths: [Int]) -> [Refusal<EnvelopeError.Code>] {
    keys.flatMap { key in
        lengths.map { length in
            let bytes = encodeFields(fields, setting: key, to: .bytes(filled(0xAA, length)))
            return Refusal("\(key) of \(length) bytes", bytes: bytes, .malformed)
        }
    }
}

/// Versions other than 1 in `v`: a version this build does not read, not a malformed structure.
func versionRefusals(_ fields: [(String, CBOR)]) -> [Refusal<EnvelopeError.Code>] {
    [0, 2, UInt64.max].map {
        Refusal("version \($0)", bytes: encodeFields(fields, setting: "v", to: .unsigned($0)), .unsupportedVersion)
    }
}

/// The same content written in forms other than the deterministic one, for the structures whose one
/// encoding is what gets hashed or signed: the keys in another order, each unsigned value and byte string
/// with a longer head than needed, a longer map head, a longer key head, and an indefinite-length map.
func nonDeterministicEncodings(_ fields: [(String, CBOR)]) -> [Refusal<EnvelopeError.Code>] {
    let raw = fields.map { ($0.0, CBOREncoder.encode($0.1)) }
    var out: [Refusal<EnvelopeError.Code>] = [
        Refusal("keys reversed", bytes: encodeRawFields(raw.reversed()), .malformed),
        Refusal("first two keys swapped", bytes: encodeRawFields([raw[1], raw[0]] + raw.dropFirst(2)), .malformed),
        Refusal("map head in two bytes", bytes: encodeRawFields(raw, head: [0xB8, UInt8(raw.count)]), .malformed),
        Refusal("indefinite-length map", bytes: encodeRawFields(raw, head: [0xBF]) + [0xFF], .malformed),
    ]
    for (index, (key, value)) in fields.enumerated() {
        var longer = raw
        switch value {
        case .unsigned(let n) where n <= 0xFFFF_FFFF:
            longer[index].1 = longHead(major: 0, n)
        case .bytes(let b):
            longer[index].1 = longHead(major: 2, UInt64(b.count)) + b
        default:
            continue
        }
        out.append(Refusal("\(key) with an 8-byte head", bytes: encodeRawFields(longer), .malformed))
    }
    // Every structure here has fewer than 24 fields, so its shortest map head is the single byte 0xA0 + count.
    let keyHead = [0xA0 | UInt8(raw.count), 0x78, UInt8(raw[0].0.utf8.count)] + Array(raw[0].0.utf8) + raw[0].1
    let keyHeadRest = encodeRawFields(Array(raw.dropFirst()), head: [])
    out.append(Refusal("first key with a one-byte length head", bytes: keyHead + keyHeadRest, .malformed))
    return out
}

/// The head of `major` with argument `n` in its 8-byte form, never the shortest for `n` below 2^32.
func longHead(major: UInt8, _ n: UInt64) -> [UInt8] {
    [major << 5 | 27] + (0..<8).reversed().map { UInt8(truncatingIfNeeded: n >> (UInt64($0) * 8)) }
}
