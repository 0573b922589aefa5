import Testing

@testable import CBOR

func bytes(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var chars = Array(hex.filter { !$0.isWhitespace })
    if chars.count % 2 == 1 { chars.insert("0", at: 0) }
    var i = 0
    while i < chars.count {
        out.append(UInt8(String(chars[i...i + 1]), radix: 16)!)
        i += 2
    }
    return out
}

struct CBORDecoderTests {
    /// RFC 8949 Appendix A examples that Cloister's encoder writes the same way (preferred serialization).
    static let roundTrip: [(String, CBOR)] = [
        ("00", 0), ("01", 1), ("17", 23), ("1818", 24), ("1864", 100), ("1903e8", 1000),
        ("1a000f4240", 1_000_000), ("1b000000e8d4a51000", 1_000_000_000_000),
        ("1bffffffffffffffff", .unsigned(UInt64.max)), ("3bffffffffffffffff", .negative(UInt64.max)),
        ("20", -1), ("29", -10), ("3863", -100), ("3903e7", -1000),
        ("f4", false), ("f5", true), ("f6", nil), ("f7", .undefined),
        ("40", .bytes([])), ("4401020304", .bytes([1, 2, 3, 4])),
        ("60", ""), ("6161", "a"), ("6449455446", "IETF"), ("62225c", "\"\\"), ("62c3bc", "\u{00fc}"),
        ("63e6b0b4", "\u{6c34}"), ("64f0908591", "\u{10151}"),
        ("80", []), ("83010203", [1, 2, 3]), ("8301820203820405", [1, [2, 3], [4, 5]]),
        ("98190102030405060708090a0b0c0d0e0f101112131415161718181819", .array((1...25).map { .int(Int64($0)) })),
        ("a0", .map(CBORMap())), ("a201020304", .map([1: 2, 3: 4])),
        ("a26161016162820203", .map(["a": 1, "b": [2, 3]])),
        ("826161a161626163", ["a", .map(["b": "c"])]),
        ("c074323031332d30332d32315432303a30343a30305a", .tagged(0, "2013-03-21T20:04:00Z")),
        ("d74401020304", .tagged(23, .bytes([1, 2, 3, 4]))),
        ("d818456449455446", .tagged(24, .bytes(Array("dIETF".utf8)))),
        ("d28440a0f640", .tagged(18, [.bytes([]), .map(CBORMap()), nil, .bytes([])])),
        ("fa47c35000", .float(100000.0)), ("fb3ff199999999999a", .float(1.1)),
    ]

    @Test(arguments: roundTrip)
    func decodesAndReencodesRFCVectors(hex: String, value: CBOR) throws {
        #expect(try CBORDecoder.decode(bytes(hex)) == value)
        #expect(CBOREncoder.encode(value) == bytes(hex))
    }

    /// Vectors that decode but that Cloister's encoder writes differently (indefinite lengths, half floats).
    static let decodeOnly: [(String, CBOR)] = [
        ("5f42010243030405ff", .bytes([1, 2, 3, 4, 5])),
        ("7f657374726561646d696e67ff", "streaming"),
        ("9fff", []), ("9f018202039f0405ffff", [1, [2, 3], [4, 5]]),
        ("83018202039f0405ff", [1, [2, 3], [4, 5]]),
        ("9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff", .array((1...25).map { .int(Int64($0)) })),
        ("bf61610161629f0203ffff", .map(["a": 1, "b": [2, 3]])),
        ("bf6346756ef563416d7421ff", .map(["Fun": true, "Amt": -2])),
        ("f93c00", .float(1.0)), ("f90000", .float(0.0)),
        // Non-shortest heads are well-formed CBOR; the byte string's content is kept exactly.
        ("5800", .bytes([])), ("590002abcd", .bytes([0xab, 0xcd])), ("1800", 0),
    ]

    @Test(arguments: decodeOnly)
    func decodesIndefiniteAndNonPreferredForms(hex: String, value: CBOR) throws {
        #expect(try CBORDecoder.decode(bytes(hex)) == value)
    }

    /// Every one-byte tag, including 6...20 that libcbor 0.8 refuses (18 is COSE_Sign1).
    @Test func decodesEveryOneByteTag() throws {
        for tag in 0..<24 {
            let encoded: [UInt8] = [0xC0 | UInt8(tag), 0x01]
            #expect(try CBORDecoder.decode(encoded) == .tagged(UInt64(tag), 1))
        }
    }

    /// Malformed input, each with the exact code.
    static let malformed: [(String, CBORError.Code, String)] = [
        ("", .empty, "empty input"),
        ("18", .truncated, "uint8 without its byte"),
        ("1a0000", .truncated, "uint32 cut short"),
        ("83 01 02 44", .truncated, "array whose last element is cut short"),
        ("a2 01 02 03 44 00", .truncated, "map whose last value is cut short"),
        ("83 01 02", .declaredLengthTooLarge, "array declaring more items than bytes left"),
        ("44 0102", .truncated, "byte string shorter than declared"),
        ("5b ffffffffffffffff 00", .truncated, "byte string declaring 2^64-1 bytes"),
        ("7a 7fffffff 41", .truncated, "text declaring 2 GiB"),
        ("9a 090041a3", .declaredLengthTooLarge, "libcbor's 1.2 GB allocation case"),
        ("9b 00000000ffffffff 00", .declaredLengthTooLarge, "array declaring 4 G items"),
        ("bb 7fffffffffffffff 0000", .declaredLengthTooLarge, "map declaring 2^63 entries"),
        ("9b ffffffffffffffff 00", .declaredLengthTooLarge, "array declaring 2^64-1 items (negative as Int)"),
        ("9b 8000000000000000 00", .declaredLengthTooLarge, "array declaring 2^63 items (Int.min)"),
        ("bb fbfbfb0130303030 00 00", .declaredLengthTooLarge, "map count above Int.max, found by fuzzing"),
        ("9f bb ffffffffffffffff 01 01 ff", .declaredLengthTooLarge, "nested map count above Int.max"),
        ("a3 0102 0304", .declaredLengthTooLarge, "map declaring more entries than bytes allow"),
        ("1c", .malformed, "reserved additional information 28"),
        ("1f", .malformed, "indefinite unsigned integer"),
        ("ff", .malformed, "break at top level"),
        ("82 01 ff", .malformed, "break inside a definite array"),
        ("f8 20", .malformed, "two-byte simple value"),
        ("5f 6161 ff", .malformed, "text chunk in an indefinite byte string"),
        ("7f 4161 ff", .malformed, "byte chunk in an indefinite text string"),
        ("5f 5f ff ff", .malformed, "indefinite chunk in an indefinite byte string"),
        ("5f 01 ff", .malformed, "integer chunk in an indefinite byte string"),
        ("bf 01 ff", .malformed, "indefinite map ending after a key"),
        ("a2 01 02 01 03", .duplicateMapKey, "repeated integer key"),
        ("a2 6161 01 6161 02", .duplicateMapKey, "repeated text key"),
        ("bf 01 02 01 03 ff", .duplicateMapKey, "repeated key in an indefinite map"),
        ("62 c328", .invalidUTF8, "invalid UTF-8 sequence"),
        ("7f 61c3 6128 ff", .invalidUTF8, "UTF-8 split badly across chunks"),
        ("01 00", .trailingBytes, "a byte after the item"),
        ("d2 84 40 a0 f6 40 00", .trailingBytes, "a byte after a COSE_Sign1"),
    ]

    @Test(arguments: malformed)
    func refusesMalformedInput(hex: String, code: CBORError.Code, why: String) {
        #expect(throws: CBORError(code, at: 0), "\(why)") { try CBORDecoder.decode(bytes(hex)) }
    }

    @Test func duplicateKeysAreFoundInLargeMaps() throws {
        // Past the linear-scan limit the decoder switches to a set; both paths must catch repeats.
        var encoded: [UInt8] = [0xB8, 40]
        for i in 0..<39 { CBOREncoder.append(.int(Int64(i)), to: &encoded); encoded.append(0x00) }
        CBOREncoder.append(.int(3), to: &encoded)
        encoded.append(0x00)
        #expect(throws: CBORError(.duplicateMapKey, at: 0)) { try CBORDecoder.decode(encoded) }
        encoded.removeLast(2)
        CBOREncoder.append(.int(39), to: &encoded)
        encoded.append(0x00)
        #expect(try CBORDecoder.decode(encoded).map?.count == 40)
    }

    @Test func decodePrefixLeavesTheBytesAfterTheItem() throws {
        let decoder = CBORDecoder()
        let (item, length) = try decoder.decodePrefix(bytes("a2 01 02 03 04 ff 00"))
        #expect(item == .map([1: 2, 3: 4]) && length == 5)
        #expect(try decoder.decodePrefix(bytes("01")) == (.unsigned(1), 1))
        // Everything but trailing bytes is refused as decode refuses it.
        #expect(throws: CBORError(.truncated, at: 0)) { try decoder.decodePrefix(bytes("19 01")) }
        #expect(throws: CBORError(.duplicateMapKey, at: 0)) { try decoder.decodePrefix(bytes("a2 01 02 01 03 00")) }
        #expect(throws: CBORError(.empty, at: 0)) { try decoder.decodePrefix([]) }
        #expect(throws: CBORError(.inputTooLarge, at: 0)) { try CBORDecoder(limits: .init(maxInputSize: 2)).decodePrefix(bytes("01 02 03")) }
    }

    @Test func nestingIsCapped() throws {
        let limits = CBORDecoder.Limits(maxDepth: 32)
        let ok = [UInt8](repeating: 0x81, count: 32) + [0x00]
        #expect(throws: Never.self) { try CBORDecoder(limits: limits).decode(ok) }
        for opener: UInt8 in [0x81, 0x9F, 0xA1, 0xC6, 0xD8] {
            var deep: [UInt8] = []
            for _ in 0..<100_000 {
                deep.append(opener)
                if opener == 0xA1 { deep.append(0x00) }
                if opener == 0xD8 { deep.append(0x40) }
            }
            deep.append(0x00)
            #expect(throws: CBORError(.tooDeep, at: 0), "opener 0x\(String(opener, radix: 16))") {
                try CBORDecoder(limits: limits).decode(deep)
            }
        }
    }

    @Test func itemCountIsCapped() throws {
        var many: [UInt8] = [0x9F]
        many += [UInt8](repeating: 0x00, count: 70_000)
        many.append(0xFF)
        #expect(throws: CBORError(.tooManyItems, at: 0)) { try CBORDecoder.decode(many) }
    }

    @Test func oversizedInputIsRefusedBeforeDecoding() throws {
        let sixteenMiB = [UInt8](repeating: 0x00, count: 16 << 20)
        #expect(throws: CBORError(.inputTooLarge, at: 0)) { try CBORDecoder.decode(sixteenMiB) }
        // A legitimately large byte string within the limit is fine.
        let big = CBOREncoder.encode(.bytes([UInt8](repeating: 7, count: 900_000)))
        #expect(try CBORDecoder.decode(big).bytes?.count == 900_000)
    }

    @Test func errorsCarryTheOffset() throws {
        do {
            _ = try CBORDecoder.decode(bytes("83 01 02 1c"))
            Issue.record("decoded a reserved byte")
        } catch {
            #expect(error.code == .malformed)
            #expect(error.offset == 3)
        }
    }

    @Test func byteStringsKeepTheExactBytes() throws {
        let payload = bytes("bf 61 61 01 ff")  // an indefinite map, as newer Nitro payloads are
        let wrapped = CBOREncoder.encode(.array([.bytes(payload)]))
        #expect(try CBORDecoder.decode(wrapped).array?.first?.bytes == payload)
    }
}

struct CBOREncoderTests {
    @Test(arguments: [
        (UInt64(23), 1), (24, 2), (255, 2), (256, 3), (65_535, 3), (65_536, 5), (4_294_967_295, 5), (4_294_967_296, 9),
    ])
    func usesShortestHeads(value: UInt64, length: Int) {
        #expect(CBOREncoder.encode(.unsigned(value)).count == length)
        #expect(CBOREncoder.encode(.negative(value)).count == length)
    }

    @Test func keepsMapOrderAndIsDeterministic() throws {
        let map: CBOR = .map(CBORMap([("z", 1), ("a", 2), (3, 4)]))
        let once = CBOREncoder.encode(map)
        #expect(once == CBOREncoder.encode(map))
        #expect(once == bytes("a3 617a 01 6161 02 03 04"))
        #expect(try CBORDecoder.decode(once) == map)
    }

    @Test func mapSubscriptReplacesAndRemoves() {
        var m = CBORMap([("a", 1)])
        m["a"] = 2
        m["b"] = 3
        #expect(m.count == 2)
        #expect(m["a"] == 2)
        m["a"] = nil
        #expect(m.entries.map(\.key) == ["b"])
    }
}
