import CBOR
import Testing

@testable import EnclaveWire

@Suite struct ReceiptTests {
    static func parse(_ bytes: [UInt8]) throws(EnvelopeError) { _ = try Receipt(encoded: bytes) }

    static let sample = Receipt(
        boot: filled(0xB0), sequence: 7, previous: filled(0x9E), requestID: "req-7:A.b_c", tenant: "acme",
        operation: "echo", requestHash: filled(0x5A), resultHash: filled(0xE5), status: "ok", time: 1_700_000_000_123)

    /// `receipt`'s fields in wire order, for the tables that alter one of them.
    static func fields(_ r: Receipt = sample) -> [(String, CBOR)] {
        [
            ("v", .unsigned(1)), ("boot", .bytes(r.boot)), ("seq", .unsigned(r.sequence)), ("prev", .bytes(r.previous)),
            ("job", .text(r.requestID)), ("tenant", .text(r.tenant)), ("op", .text(r.operation)),
            ("req", .bytes(r.requestHash)), ("res", .bytes(r.resultHash)), ("status", .text(r.status)),
            ("time", .unsigned(r.time)),
        ]
    }

    static func with(_ key: String, _ value: CBOR) -> [UInt8] { encodeFields(fields(), setting: key, to: value) }

    @Test func encodingIsPinned() {
        // python3: hashlib.sha256(cbor2.dumps({"v": 1, "boot": b"\xb0" * 32, "seq": 7, "prev": b"\x9e" * 32,
        //   "job": "req-7:A.b_c", "tenant": "acme", "op": "echo", "req": b"\x5a" * 32, "res": b"\xe5" * 32,
        //   "status": "ok", "time": 1700000000123})).hexdigest()  (cbor2 keeps a dict's insertion order)
        let sha256 = "ff4df2fdd0ef319fb941c2725713e39ec56f2c471b11675c37a760b1ce46efc8"
        expectEncoding(Self.sample.encoded, of: Self.fields(), sha256: sha256)
    }

    /// The chain hash is plain SHA-256 of the bytes given (FIPS 180-2 appendix B.1, and the empty message).
    @Test func hashIsSHA256OfTheEncodedBytes() {
        #expect(
            hex(Receipt.hash(encoded: Array("abc".utf8)))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(Receipt.hash(encoded: [])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    static let valid: [Receipt] = [
        sample,
        Receipt(
            boot: filled(0), sequence: 1, previous: Receipt.genesis, requestID: String(repeating: "Z", count: 64),
            tenant: String(repeating: "t", count: 64), operation: "0-a_b.c", requestHash: filled(0),
            resultHash: filled(0xFF), status: String(repeating: "E", count: 64), time: 0),
        Receipt(
            boot: filled(1), sequence: .max, previous: filled(2), requestID: "a", tenant: "9", operation: "o",
            requestHash: filled(3), resultHash: filled(4), status: "Timeout:E.1-x_y", time: .max),
        Receipt(
            boot: filled(1), sequence: 24, previous: filled(2), requestID: "0", tenant: "a", operation: "b",
            requestHash: filled(3), resultHash: filled(4), status: "ok", time: 23),
    ]

    @Test(arguments: valid)
    func roundTrips(receipt: Receipt) throws {
        let bytes = receipt.encoded
        #expect(try Receipt(encoded: bytes) == receipt)
        #expect(try Receipt(encoded: bytes).encoded == bytes)
    }

    @Test func genesisIs32ZeroBytes() {
        #expect(Receipt.genesis == filled(0))
    }

    static let refused: [Refusal<EnvelopeError.Code>] = {
        var out = strictMapRefusals(fields()) + nonDeterministicEncodings(fields()) + versionRefusals(fields())
        out += fixedLengthRefusals(fields(), keys: ["boot", "prev", "req", "res"], lengths: [0, 31, 33])
        out.append(Refusal("seq 0", bytes: with("seq", .unsigned(0)), .malformed))
        let names: [(String, [String])] = [
            ("job", ["", "has space", String(repeating: "a", count: 65), "é", "a/b", "a+b", "line\n", "nul\u{0}"]),
            (
                "tenant",
                ["", "Acme", "-acme", "_acme", ".acme", "ac me", "ac:me", String(repeating: "a", count: 65), "ü"]
            ),
            ("op", ["", "Echo", "-echo", "e:cho", "e/cho", String(repeating: "o", count: 65)]),
            ("status", ["", "not ok", "ok\n", "ok!", String(repeating: "E", count: 65), "é"]),
        ]
        for (key, values) in names {
            for value in values {
                out.append(
                    Refusal("\(key) \(value.debugDescription.prefix(20))", bytes: with(key, .text(value)), .malformed))
            }
        }
        // Larger than maxSize, in a field whose own bound would refuse it as well; the size is refused first.
        let big = with("job", .text(String(repeating: "a", count: Receipt.maxSize)))
        out.append(Refusal("\(big.count) bytes", bytes: big, .malformed))
        let padded = sample.encoded + filled(0, Receipt.maxSize + 1 - sample.encoded.count)
        out.append(Refusal("padded to maxSize + 1", bytes: padded, .malformed))
        return out
    }()

    @Test(arguments: refused)
    func refusesWithItsCode(refusal: Refusal<EnvelopeError.Code>) { expectRefused(refusal, by: Self.parse) }

    @Test(arguments: valid)
    func refusesEveryTruncation(receipt: Receipt) { expectEveryTruncationRefused(receipt.encoded, by: Self.parse) }

    /// Every single-byte change of a valid receipt either is refused or parses to a receipt that encodes back
    /// to exactly the changed bytes: one receipt, one encoding, one hash.
    @Test func everyByteChangeIsRefusedOrIsAnotherReceipt() throws {
        let bytes = Self.sample.encoded
        var wrong: [Int] = []
        for i in bytes.indices {
            for flip: UInt8 in [0x01, 0x20, 0x80] {
                var changed = bytes
                changed[i] ^= flip
                if let parsed = try? Receipt(encoded: changed), parsed.encoded != changed || parsed == Self.sample {
                    wrong.append(i)
                }
            }
        }
        #expect(wrong.isEmpty, "offsets where a changed byte parsed to a receipt that is not its own: \(wrong)")
    }
}

@Suite struct RequestLimitsTests {
    @Test(arguments: ["a", "Z", "0", "req-1", "a:b.c_d-E", "-", ".", ":", "_", String(repeating: "x", count: 64)])
    func validRequestIDs(id: String) {
        #expect(RequestLimits.isValidRequestID(id))
        #expect(RequestLimits.isValidStatus(id))
    }

    @Test(arguments: [
        "", " ", "a b", "a/b", "a+b", "é", "a\n", "a\u{0}", "a\u{7F}", String(repeating: "x", count: 65),
    ])
    func invalidRequestIDs(id: String) {
        #expect(!RequestLimits.isValidRequestID(id))
        #expect(!RequestLimits.isValidStatus(id))
    }

    @Test(arguments: ["a", "0", "acme", "a-b_c.d", "9lives", "a.", "a-", String(repeating: "a", count: 64)])
    func validNames(name: String) {
        #expect(RequestLimits.isValidName(name))
    }

    @Test(arguments: [
        "", "A", "Acme", "aB", "-a", "_a", ".a", "a:b", "a b", "é", "a\n", String(repeating: "a", count: 65),
    ])
    func invalidNames(name: String) {
        #expect(!RequestLimits.isValidName(name))
    }

    @Test func limitsCountBytesNotCharacters() {
        // 32 two-byte characters are 64 bytes but still refused: they are outside the alphabet, whatever the length.
        #expect(!RequestLimits.isValidRequestID(String(repeating: "é", count: 32)))
        #expect(RequestLimits.isValidRequestID(Substring("xx-yy").dropFirst(3)))
    }
}

@Suite struct RequestDigestTests {
    /// The request hash as the client computes it, from an encoder that is not this one.
    @Test func matchesAnIndependentlyComputedVector() {
        // python3 -c 'import cbor2,hashlib; print(hashlib.sha256(cbor2.dumps(["cloister-request/2","acme","echo","r1",b"hello"])).hexdigest())'
        let digest = RequestDigest.hash(tenant: "acme", operation: "echo", requestID: "r1", body: Array("hello".utf8))
        #expect(hex(digest) == "24340cfb9a9f41405850a585118bff7c77403668baf94520b2c7b9f0233e81a9")
    }

    @Test func everyInputChangesTheHash() {
        let body = Array("hello".utf8)
        let base = RequestDigest.hash(tenant: "acme", operation: "echo", requestID: "r1", body: body)
        var variants: [[UInt8]] = [
            RequestDigest.hash(tenant: "acme", operation: "echp", requestID: "r1", body: body),
            RequestDigest.hash(tenant: "acme", operation: "echo", requestID: "r2", body: body),
            RequestDigest.hash(tenant: "acme", operation: "echo", requestID: "r1", body: body + [0]),
            RequestDigest.hash(tenant: "acme", operation: "echo", requestID: "r1", body: Array(body.dropLast())),
            RequestDigest.hash(tenant: "acme", operation: "echo", requestID: "r1", body: []),
            // The operation, the id and the body are length-prefixed, so moving a boundary changes the hash.
            RequestDigest.hash(tenant: "acme", operation: "echor", requestID: "1", body: body),
            RequestDigest.hash(tenant: "acme", operation: "echo", requestID: "r1h", body: Array("ello".utf8)),
            RequestDigest.hash(tenant: "acme", operation: "r1", requestID: "echo", body: body),
            RequestDigest.hash(tenant: "acm", operation: "echo", requestID: "r1", body: body),
            RequestDigest.hash(tenant: "acmee", operation: "cho", requestID: "r1", body: body),
        ]
        for i in body.indices {
            for bit in 0..<8 {
                var changed = body
                changed[i] ^= 1 << bit
                variants.append(RequestDigest.hash(tenant: "acme", operation: "echo", requestID: "r1", body: changed))
            }
        }
        #expect(!variants.contains(base))
        #expect(Set(variants).count == variants.count)
    }

    /// The hand-written head of the body agrees with the generic encoder on each side of every length boundary.
    @Test(arguments: [0, 1, 23, 24, 255, 256, 65_535, 65_536])
    func agreesWithTheGenericEncoder(bodyLength: Int) {
        let body = (0..<bodyLength).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let item: CBOR = [.text(RequestDigest.domain), "acme", "op", "id", .bytes(body)]
        #expect(
            RequestDigest.hash(tenant: "acme", operation: "op", requestID: "id", body: body)
                == Receipt.hash(encoded: CBOREncoder.encode(item)))
    }
}
