import CBOR
import Testing

@testable import EnclaveWire

@Suite struct SealTests {
    static func parse(_ bytes: [UInt8]) throws(EnvelopeError) { _ = try Seal(payload: bytes) }

    static let sample = Seal(boot: filled(0xB0), first: 5, count: 3, root: filled(0x77), time: 1_700_000_000_456)

    static func fields(_ s: Seal = sample) -> [(String, CBOR)] {
        [
            ("v", .unsigned(1)), ("boot", .bytes(s.boot)), ("first", .unsigned(s.first)), ("count", .unsigned(s.count)),
            ("root", .bytes(s.root)), ("time", .unsigned(s.time)),
        ]
    }

    static func with(_ key: String, _ value: CBOR) -> [UInt8] { encodeFields(fields(), setting: key, to: value) }

    @Test func payloadIsPinned() {
        // python3: hashlib.sha256(cbor2.dumps({"v": 1, "boot": b"\xb0" * 32, "first": 5, "count": 3,
        //   "root": b"\x77" * 32, "time": 1700000000456})).hexdigest()
        let sha256 = "71654e7d6a64e489dbeaa3bceefd2fcb7c9d03f46bd7034b8f8af87c0fce292e"
        expectEncoding(Self.sample.payload, of: Self.fields(), sha256: sha256)
    }

    @Test func protectedHeaderIsES384() {
        // COSE: {1 (alg): -35 (ES384)}.
        #expect(Seal.protectedHeader == CBOREncoder.encode(.map([.unsigned(1): .negative(34)])))
    }

    static let valid: [Seal] = [
        sample,
        Seal(boot: filled(0), first: 1, count: 1, root: filled(0), time: 0),
        Seal(boot: filled(1), first: 1, count: Seal.maxCount, root: filled(2), time: .max),
        Seal(boot: filled(1), first: .max - Seal.maxCount, count: Seal.maxCount, root: filled(2), time: 24),
    ]

    @Test(arguments: valid)
    func roundTrips(seal: Seal) throws {
        #expect(try Seal(payload: seal.payload) == seal)
    }

    static let refused: [Refusal<EnvelopeError.Code>] = {
        var out = strictMapRefusals(fields()) + nonDeterministicEncodings(fields()) + versionRefusals(fields())
        out += fixedLengthRefusals(fields(), keys: ["boot", "root"], lengths: [0, 31, 33])
        out += [
            Refusal("count 0", bytes: with("count", .unsigned(0)), .malformed),
            Refusal("count maxCount + 1", bytes: with("count", .unsigned(Seal.maxCount + 1)), .malformed),
            Refusal("count 2^64-1", bytes: with("count", .unsigned(.max)), .malformed),
            Refusal("first 0", bytes: with("first", .unsigned(0)), .malformed),
            // Past this, first + count could overflow.
            Refusal(
                "first 2^64-1 - maxCount + 1", bytes: with("first", .unsigned(.max - Seal.maxCount + 1)), .malformed),
            Refusal("first 2^64-1", bytes: with("first", .unsigned(.max)), .malformed),
            Refusal("larger than 512 bytes", bytes: with("root", .bytes(filled(0, 512))), .malformed),
        ]
        return out
    }()

    @Test(arguments: refused)
    func refusesWithItsCode(refusal: Refusal<EnvelopeError.Code>) { expectRefused(refusal, by: Self.parse) }

    @Test(arguments: valid)
    func refusesEveryTruncation(seal: Seal) { expectEveryTruncationRefused(seal.payload, by: Self.parse) }

    static let coverage: [(first: UInt64, count: UInt64, sequence: UInt64, covered: Bool)] = [
        (5, 3, 4, false), (5, 3, 5, true), (5, 3, 7, true), (5, 3, 8, false), (5, 3, 0, false), (5, 3, .max, false),
        (1, 1, 0, false), (1, 1, 1, true), (1, 1, 2, false),
        (1, Seal.maxCount, Seal.maxCount, true), (1, Seal.maxCount, Seal.maxCount + 1, false),
        // At the top of the range first + count is 2^64 - 1 exactly, and nothing overflows.
        (.max - Seal.maxCount, Seal.maxCount, .max - 1, true), (.max - Seal.maxCount, Seal.maxCount, .max, false),
        (.max - Seal.maxCount, Seal.maxCount, .max - Seal.maxCount - 1, false),
    ]

    @Test(arguments: coverage)
    func covers(first: UInt64, count: UInt64, sequence: UInt64, covered: Bool) {
        let seal = Seal(boot: filled(0), first: first, count: count, root: filled(0), time: 0)
        #expect(seal.covers(sequence) == covered)
    }
}

@Suite struct SignedReceiptTests {
    static func parse(_ bytes: [UInt8]) throws(EnvelopeError) { _ = try SignedReceipt(encoded: bytes) }

    static let sample = SignedReceipt(
        receipt: ReceiptTests.sample.encoded, seal: filled(0xC5, 120), proof: [filled(1), filled(2), filled(3)])

    /// The fields of `signed` in wire order; a response adds `result`.
    static func fields(_ signed: SignedReceipt = sample) -> [(String, CBOR)] {
        var out: [(String, CBOR)] = [
            ("receipt", .bytes(signed.receipt)), ("seal", .bytes(signed.seal)),
            ("proof", .array(signed.proof.map { .bytes($0) })),
        ]
        if let index = signed.index, let head = signed.head, let logProof = signed.logProof {
            out += [("n", .unsigned(index)), ("head", .bytes(head)), ("lproof", .array(logProof.map { .bytes($0) }))]
        }
        return out
    }

    /// A receipt with its place in the deployment log.
    static let logged = SignedReceipt(
        receipt: ReceiptTests.sample.encoded, seal: filled(0xC5, 120), proof: [filled(1)], index: 41, head: Array("cloister/ab\n42\nx\n\n— y\n".utf8),
        logProof: [filled(4), filled(5)])

    static let longestProof = (0..<MerkleTree.maxProofLength).map { filled(UInt8($0)) }

    static let valid: [SignedReceipt] = [
        sample,
        SignedReceipt(receipt: [], seal: [], proof: []),
        SignedReceipt(receipt: filled(0x52, Receipt.maxSize), seal: filled(0x53, Seal.maxSize), proof: longestProof),
        logged,
        SignedReceipt(
            receipt: filled(0x52, Receipt.maxSize), seal: filled(0x53, Seal.maxSize), proof: longestProof, index: UInt64.max,
            head: filled(0x54, SignedReceipt.maxHead), logProof: (0..<SignedReceipt.maxLogProofLength).map { filled(UInt8($0)) }),
    ]

    /// The log fields come all three or not at all, and hold what they must.
    static let logRefusals: [Refusal<EnvelopeError.Code>] = {
        let all = fields(logged)
        var out: [Refusal<EnvelopeError.Code>] = ["n", "head", "lproof"].map { key in
            Refusal("a logged receipt without \(key)", bytes: encodeFields(all.filter { $0.0 != key }), .malformed)
        }
        func setting(_ name: String, _ key: String, _ value: CBOR) -> Refusal<EnvelopeError.Code> {
            Refusal(name, bytes: encodeFields(all, setting: key, to: value), .malformed)
        }
        out.append(setting("an lproof element of 31 bytes", "lproof", .array([.bytes(filled(9, 31))])))
        out.append(setting("an lproof of maxLogProofLength + 1", "lproof", .array((0...SignedReceipt.maxLogProofLength).map { _ in .bytes(filled(1)) })))
        out.append(setting("a head of maxHead + 1", "head", .bytes(filled(0, SignedReceipt.maxHead + 1))))
        out.append(setting("a text n", "n", .text("1")))
        return out
    }()

    @Test(arguments: logRefusals)
    func refusesPartialLogFields(refusal: Refusal<EnvelopeError.Code>) { expectRefused(refusal, by: Self.parse) }

    @Test(arguments: valid)
    func roundTrips(signed: SignedReceipt) throws {
        #expect(encodeFields(Self.fields(signed)) == signed.encoded)
        #expect(try SignedReceipt(encoded: signed.encoded) == signed)
    }

    /// The proof and size refusals a signed receipt and a response share, made from either's valid `fields`.
    static func proofAndSizeRefusals(_ fields: [(String, CBOR)]) -> [Refusal<EnvelopeError.Code>] {
        func refusal(_ name: String, _ key: String, _ value: CBOR) -> Refusal<EnvelopeError.Code> {
            Refusal(name, bytes: encodeFields(fields, setting: key, to: value), .malformed)
        }
        let elements: [(String, CBOR)] = [
            ("0 bytes", .bytes([])), ("31 bytes", .bytes(filled(9, 31))), ("33 bytes", .bytes(filled(9, 33))),
            ("64 bytes", .bytes(filled(9, 64))), ("text", .text(String(repeating: "h", count: 32))),
            ("integer", .unsigned(1)), ("array", .array([.bytes(filled(9))])), ("null", .null),
        ]
        var out = elements.map { name, element in
            refusal("a proof element of \(name)", "proof", .array([.bytes(filled(1)), element]))
        }
        let tooLong = CBOR.array((0...MerkleTree.maxProofLength).map { _ in .bytes(filled(1)) })
        out.append(refusal("a proof of maxProofLength + 1", "proof", tooLong))
        out.append(refusal("a receipt of Receipt.maxSize + 1", "receipt", .bytes(filled(0, Receipt.maxSize + 1))))
        out.append(refusal("a seal of Seal.maxSize + 1", "seal", .bytes(filled(0, Seal.maxSize + 1))))
        return out
    }

    static let refused = strictMapRefusals(fields()) + proofAndSizeRefusals(fields())

    @Test(arguments: refused)
    func refusesWithItsCode(refusal: Refusal<EnvelopeError.Code>) { expectRefused(refusal, by: Self.parse) }

    @Test func refusesAResponse() {
        let response = SignedResponse(signed: Self.sample, result: [1])
        #expect(throws: EnvelopeError(.malformed, "")) { try SignedReceipt(encoded: response.encoded) }
    }

    @Test(arguments: valid)
    func refusesEveryTruncation(signed: SignedReceipt) { expectEveryTruncationRefused(signed.encoded, by: Self.parse) }
}

@Suite struct SignedResponseTests {
    static func parse(_ bytes: [UInt8]) throws(EnvelopeError) { _ = try SignedResponse(encoded: bytes) }

    static let sample = SignedResponse(signed: SignedReceiptTests.sample, result: Array("{\"echo\":\"hello\"}".utf8))

    static func fields(_ response: SignedResponse = sample) -> [(String, CBOR)] {
        SignedReceiptTests.fields(response.signed) + [("result", .bytes(response.result))]
    }

    static let valid: [SignedResponse] = [
        sample,
        SignedResponse(signed: SignedReceipt(receipt: [], seal: [], proof: []), result: []),
        SignedResponse(signed: SignedReceiptTests.valid[2], result: filled(0x99, SignedResponse.maxResultSize)),
        SignedResponse(signed: SignedReceiptTests.valid[4], result: filled(0x99, SignedResponse.maxResultSize)),
    ]

    @Test(arguments: valid)
    func roundTrips(response: SignedResponse) throws {
        #expect(encodeFields(Self.fields(response)) == response.encoded)
        #expect(response.encoded.count <= SignedResponse.maxSize)
        #expect(try SignedResponse(encoded: response.encoded) == response)
    }

    static let refused: [Refusal<EnvelopeError.Code>] = {
        var out = strictMapRefusals(fields()) + SignedReceiptTests.proofAndSizeRefusals(fields())
        let big = replacing(fields(), "result", with: .bytes(filled(0, SignedResponse.maxResultSize + 1)))
        out.append(Refusal("a result of maxResultSize + 1", bytes: encodeFields(big), .malformed))
        out.append(Refusal("a signed receipt alone", bytes: SignedReceiptTests.sample.encoded, .malformed))
        out.append(
            Refusal("larger than maxSize", bytes: sample.encoded + filled(0, SignedResponse.maxSize), .malformed))
        return out
    }()

    @Test(arguments: refused)
    func refusesWithItsCode(refusal: Refusal<EnvelopeError.Code>) { expectRefused(refusal, by: Self.parse) }

    /// The small ones: the largest would parse a quarter of a megabyte a quarter of a million times.
    @Test(arguments: valid.prefix(2))
    func refusesEveryTruncation(response: SignedResponse) {
        expectEveryTruncationRefused(response.encoded, by: Self.parse)
    }
}

@Suite struct IdentityClaimsTests {
    static func parse(_ bytes: [UInt8]) throws(EnvelopeError) { _ = try IdentityClaims(encoded: bytes) }

    static let sample = IdentityClaims(hpkePublicKey: filled(0x11), manifestHash: filled(0x22))

    static func fields(_ c: IdentityClaims = sample) -> [(String, CBOR)] {
        [("v", .unsigned(1)), ("hpke", .bytes(c.hpkePublicKey)), ("manifest", .bytes(c.manifestHash))]
    }

    static func with(_ key: String, _ value: CBOR) -> [UInt8] { encodeFields(fields(), setting: key, to: value) }

    @Test func encodingIsPinned() {
        // python3: hashlib.sha256(cbor2.dumps({"v": 1, "hpke": b"\x11" * 32, "manifest": b"\x22" * 32})).hexdigest()
        let sha256 = "5e4cf502a40b152c2f294bdbd2ff4a9abe9c1cacf0680db5d0b14a29d3f87518"
        expectEncoding(Self.sample.encoded, of: Self.fields(), sha256: sha256)
    }

    @Test(arguments: [sample, IdentityClaims(hpkePublicKey: filled(0), manifestHash: filled(0xFF))])
    func roundTrips(claims: IdentityClaims) throws {
        #expect(try IdentityClaims(encoded: claims.encoded) == claims)
    }

    static let refused: [Refusal<EnvelopeError.Code>] = {
        var out = strictMapRefusals(fields()) + versionRefusals(fields())
        out += fixedLengthRefusals(fields(), keys: ["hpke", "manifest"], lengths: [0, 31, 33, 65])
        out.append(Refusal("larger than 512 bytes", bytes: with("manifest", .bytes(filled(0, 512))), .malformed))
        return out
    }()

    @Test(arguments: refused)
    func refusesWithItsCode(refusal: Refusal<EnvelopeError.Code>) { expectRefused(refusal, by: Self.parse) }

    @Test func refusesEveryTruncation() { expectEveryTruncationRefused(Self.sample.encoded, by: Self.parse) }
}
