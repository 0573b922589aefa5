import CBOR
import Testing

@testable import EnclaveWire

@Suite struct StoreMessageTests {
    static func parse(_ bytes: [UInt8]) throws(WireError) { _ = try StoreMessage(encoded: bytes) }

    static let longestKey = String(repeating: "~", count: StoreMessage.maxKeyBytes)

    static let messages: [StoreMessage] = [
        .get(id: 0, key: "k"),
        .get(id: .max, key: longestKey),
        .get(id: 1, key: "!tenant/acme/state#1~"),
        .put(id: 2, key: "state", expectedVersion: 0, value: []),
        .put(id: .max, key: longestKey, expectedVersion: .max, value: filled(0x5E, 3000)),
        .value(id: 3, version: 0, value: []),
        .value(id: 4, version: 7, value: [1, 2, 3]),
        .putResult(id: 5, stored: true, version: 1),
        .putResult(id: .max, stored: false, version: .max),
        .failed(id: 6, code: "io"),
        .failed(id: 7, code: ""),
        .failed(id: 8, code: String(repeating: "c", count: 64)),
        .list(id: 9, after: ""),
        .list(id: .max, after: longestKey),
        .entries(id: 10, entries: [], more: false),
        .entries(id: 11, entries: [StoreEntry(key: "a", version: 1, value: []), StoreEntry(key: "b", version: .max, value: [1, 2])], more: true),
    ]

    @Test(arguments: messages)
    func roundTrips(message: StoreMessage) throws {
        #expect(try StoreMessage(encoded: message.encoded) == message)
    }

    @Test func largestValuesRoundTrip() throws {
        let value = filled(0x76, StoreMessage.maxValueBytes)
        for message: StoreMessage in [
            .put(id: 1, key: "k", expectedVersion: 1, value: value), .value(id: 1, version: 2, value: value),
        ] {
            #expect(try StoreMessage(encoded: message.encoded) == message)
        }
    }

    @Test func failureCodesAreCutTo64Characters() throws {
        let parsed = try StoreMessage(
            encoded: StoreMessage.failed(id: 1, code: String(repeating: "e", count: 100)).encoded)
        #expect(parsed == .failed(id: 1, code: String(repeating: "e", count: 64)))
    }

    static let invalidKeys: [(String, String)] = [
        ("empty", ""), ("maxKeyBytes + 1 bytes", String(repeating: "k", count: StoreMessage.maxKeyBytes + 1)),
        ("a space", "a b"), ("a leading space", " a"), ("a tab", "a\tb"), ("a newline", "a\n"), ("a NUL", "a\u{0}b"),
        ("a control byte", "a\u{1}b"), ("DEL", "a\u{7F}"), ("non-ASCII", "clé"), ("an emoji", "🔑"),
        // 128 two-byte characters: 256 bytes, within the length, outside printable ASCII.
        ("256 bytes of non-ASCII", String(repeating: "é", count: 128)),
    ]

    @Test(arguments: invalidKeys)
    func invalidKeysAreRefused(name: String, key: String) {
        #expect(!StoreMessage.isValidKey(key))
        #expect(throws: WireError(.malformedMessage)) {
            try StoreMessage(encoded: CBOREncoder.encode([0, 1, .text(key)]))
        }
        let put: CBOR = [1, 1, .text(key), 0, .bytes([])]
        #expect(throws: WireError(.malformedMessage)) { try StoreMessage(encoded: CBOREncoder.encode(put)) }
    }

    @Test(arguments: [
        "!", "~", "a", "0", "tenant/acme:state.v1", String(repeating: "k", count: StoreMessage.maxKeyBytes),
    ])
    func validKeys(key: String) {
        #expect(StoreMessage.isValidKey(key))
    }

    static let refused: [Refusal<WireError.Code>] = {
        let malformed = WireError.Code.malformedMessage
        let tooBig = CBOR.bytes(filled(0, StoreMessage.maxValueBytes + 1))
        var out: [Refusal<WireError.Code>] = [
            Refusal("put of maxValueBytes + 1", [1, 1, "k", 0, tooBig], malformed),
            Refusal("value of maxValueBytes + 1", [2, 1, 0, tooBig], malformed),
            Refusal("get key as bytes", [0, 1, .bytes([0x6B])], malformed),
            Refusal("put version negative", [1, 1, "k", -1, .bytes([])], malformed),
            Refusal("put value as text", [1, 1, "k", 0, "v"], malformed),
            Refusal("value version as text", [2, 1, "0", .bytes([])], malformed),
            Refusal("value as text", [2, 1, 0, "v"], malformed),
            Refusal("putResult stored as 1", [3, 1, 1, 1], malformed),
            Refusal("putResult stored as null", [3, 1, nil, 1], malformed),
            Refusal("putResult version negative", [3, 1, true, -1], malformed),
            Refusal("failed code as bytes", [4, 1, .bytes([1])], malformed),
            Refusal("unknown tag 7", [7, 1, "k"], malformed),
            Refusal("list after an invalid key", [5, 1, "a b"], malformed),
            Refusal("entries out of key order", [6, 1, [["b", 1, .bytes([])], ["a", 1, .bytes([])]], false], malformed),
            Refusal("entries with a key twice", [6, 1, [["a", 1, .bytes([])], ["a", 2, .bytes([])]], false], malformed),
            Refusal("an entry of version 0", [6, 1, [["a", 0, .bytes([])]], false], malformed),
            Refusal("an entry of two fields", [6, 1, [["a", 1]], false], malformed),
            Refusal("an entry with an invalid key", [6, 1, [["a b", 1, .bytes([])]], false], malformed),
            Refusal("entries with more as a number", [6, 1, [], 1], malformed),
            Refusal(
                "maxListEntries + 1 entries",
                [6, 1, .array((0...StoreMessage.maxListEntries).map { [.text("k" + String(1000 + $0)), 1, .bytes([])] }), false], .malformedCBOR),
            Refusal("an entry of maxValueBytes + 1", [6, 1, [["a", 1, tooBig]], false], malformed),
            Refusal("unknown tag 2^64-1", [.unsigned(.max), 1], malformed),
            Refusal("tag alone", [0], malformed),
            Refusal("id as text", [0, "1", "k"], malformed),
            Refusal("id negative", [0, -1, "k"], malformed),
            Refusal("tag as text", ["get", 1, "k"], malformed),
            Refusal("empty array", [], malformed),
            Refusal("a map", .map([0: 1, 1: "k"]), malformed),
            Refusal("a text", "get", malformed),
            // Store messages are flat: nesting and long arrays are refused by the CBOR layer's bounds.
            Refusal("nested key", [0, 1, ["k"]], .malformedCBOR),
            Refusal("nine items", [4, 1, "a", "b", "c", "d", "e", "f"], .malformedCBOR),
            Refusal("no bytes", bytes: [], .malformedCBOR),
            Refusal("a trailing byte", bytes: StoreMessage.get(id: 1, key: "k").encoded + [0x00], .malformedCBOR),
            Refusal("a key that is not UTF-8", bytes: [0x83, 0x00, 0x01, 0x62, 0xC3, 0x28], .malformedCBOR),
            Refusal("a declared length of 2^64-1", bytes: [0x83, 0x00, 0x01, 0x7B] + filled(0xFF, 8), .malformedCBOR),
            Refusal(
                "larger than maxValueBytes + 1024", [2, 1, 0, .bytes(filled(0, StoreMessage.maxValueBytes + 1024))],
                .malformedCBOR),
        ]
        out += fieldCountRefusals(messages) { $0.encoded }
        return out
    }()

    @Test(arguments: refused)
    func refusesWithItsCode(refusal: Refusal<WireError.Code>) { expectRefused(refusal, by: Self.parse) }

    @Test(arguments: messages)
    func refusesEveryTruncation(message: StoreMessage) { expectEveryTruncationRefused(message.encoded, by: Self.parse) }
}
