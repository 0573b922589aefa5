import Testing

@testable import DNSStub

@Suite struct DNSMessageQueryTests {
    @Test func buildsTheExactQueryBytes() throws {
        let query = try DNSMessage.query(id: 0xABCD, name: "example.com", type: .a)
        #expect(
            query == [
                0xAB, 0xCD, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                0x07, 0x65, 0x78, 0x61, 0x6D, 0x70, 0x6C, 0x65, 0x03, 0x63, 0x6F, 0x6D, 0x00, 0x00, 0x01, 0x00, 0x01,
            ]
        )
        #expect(try DNSMessage.query(id: 0xABCD, name: "example.com.", type: .a) == query)
        let aaaa = try DNSMessage.query(id: 7, name: "example.com", type: .aaaa)
        #expect(aaaa.suffix(4) == [0x00, 0x1C, 0x00, 0x01])
    }

    static let validNames = [
        "example.com", "EXAMPLE.com.", "a", "_dns.resolver.arpa", "a-b.c_d.example.", "xn--bcher-kva.example",
        String(repeating: "a", count: 63) + ".com",
        // 253 characters: four labels of 63, 63, 63 and 61 bytes.
        [63, 63, 63, 61].map { String(repeating: "b", count: $0) }.joined(separator: "."),
    ]

    @Test(arguments: validNames)
    func queryRoundTrips(name: String) throws {
        for type in DNSRecordType.allCases {
            let query = try DNSMessage.query(id: 0x5A5A, name: name, type: type)
            let header = try DNSMessage.decodeHeader(query)
            #expect(header.id == 0x5A5A)
            #expect(!header.isResponse)
            #expect(header.flags == 0x0100)
            let message = try DNSMessage.decodeSections(query, header: header)
            #expect(message.questions.count == 1)
            #expect(message.answers.isEmpty && message.authority.isEmpty && message.additional.isEmpty)
            let question = try #require(message.questions.first)
            #expect(question.name.matches(try DNSName(validating: name)))
            #expect(question.type == type.rawValue)
            #expect(question.recordClass == 1)
        }
    }

    @Test(arguments: [
        ("", DNSError.Code.emptyLabel), (".", .emptyLabel), ("a..b", .emptyLabel), (".a", .emptyLabel),
        ("a.b..", .emptyLabel), (String(repeating: "a", count: 64) + ".com", .labelTooLong),
        ([63, 63, 63, 62].map { String(repeating: "b", count: $0) }.joined(separator: "."), .nameTooLong),
        (String(repeating: "a.", count: 200), .nameTooLong), ("exa mple.com", .invalidCharacter),
        ("example.com/", .invalidCharacter), ("bücher.example", .invalidCharacter), ("a\u{0}b", .invalidCharacter),
        ("a\\.b", .invalidCharacter),
    ])
    func refusesInvalidNames(name: String, code: DNSError.Code) {
        #expect(throws: DNSError(code, "")) { try DNSMessage.query(id: 1, name: name, type: .a) }
    }

    @Test func aResponseToABuiltQueryParses() throws {
        // Turn the query into its own response: QR and RA set, one A record pointing at the question's name.
        var response = try DNSMessage.query(id: 0x0102, name: "svc.internal", type: .a)
        response[2] |= 0x80
        response[3] |= 0x80
        response[7] = 1
        response += [0xC0, 0x0C, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x2A, 0x00, 0x04, 10, 1, 2, 3]
        let answer = try DNSMessage.parseResponse(response, expectedID: 0x0102, name: "svc.internal", type: .a)
        #expect(answer == DNSAnswer(addresses: [.v4([10, 1, 2, 3])], ttl: 42, rcode: .noError))
    }
}

@Suite struct DNSMessageResponseTests {
    typealias V = ResponseVectors

    private func parse(
        _ bytes: [UInt8],
        id: UInt16,
        name: String,
        type: DNSRecordType = .a
    ) throws(DNSError) -> DNSAnswer {
        try DNSMessage.parseResponse(bytes, expectedID: id, name: name, type: type)
    }

    @Test func readsAnARecord() throws {
        let answer = try parse(V.a, id: 0x1234, name: "example.com")
        #expect(answer.addresses == [.v4([93, 184, 216, 34])])
        #expect(answer.ttl == 3600)
        #expect(answer.rcode == .noError)
    }

    @Test func readsAnAAAARecord() throws {
        let answer = try parse(V.aaaa, id: 0x4321, name: "example.com", type: .aaaa)
        #expect(answer.addresses == [DNSAddress(literal: "2606:2800:220:1:248:1893:25c8:1946")!])
        #expect(answer.ttl == 300)
    }

    @Test func followsACNAMEChainAndIgnoresUnrelatedRecords() throws {
        let answer = try parse(V.cnameChain, id: 0xBEEF, name: "www.example.com")
        #expect(answer.addresses == [.v4([192, 0, 2, 10]), .v4([192, 0, 2, 11])])
        // The smallest TTL of the records used (the A at 20), not the unrelated record's 5.
        #expect(answer.ttl == 20)
    }

    @Test func aChainWithoutAddressesOfTheAskedTypeIsNoData() throws {
        // The same chain asked as AAAA (question type patched): the CNAMEs lead to A records only.
        let asAAAA = V.patch16(V.cnameChain, 29, 28)
        let answer = try parse(asAAAA, id: 0xBEEF, name: "www.example.com", type: .aaaa)
        #expect(answer.addresses.isEmpty)
        #expect(answer.rcode == .noError)
        #expect(answer.ttl == DNSMessage.defaultNegativeTTL)
    }

    @Test func followsPointersToNamesThatEndInPointers() throws {
        let answer = try parse(V.compression, id: 0x0001, name: "api.example.com")
        #expect(answer.addresses == [.v4([10, 0, 0, 7])])
        #expect(answer.ttl == 50)
    }

    @Test func nxdomainTakesTheNegativeTTLFromTheSOA() throws {
        let answer = try parse(V.nxdomain, id: 0x0BAD, name: "nope.example.com")
        #expect(answer == DNSAnswer(addresses: [], ttl: 300, rcode: .nameError))
        // The SOA record's own TTL caps the MINIMUM field (RFC 2308 section 5).
        let shortSOA = V.patch16(V.patch16(V.nxdomain, V.nxSOATTL, 0), V.nxSOATTL + 2, 120)
        #expect(try parse(shortSOA, id: 0x0BAD, name: "nope.example.com").ttl == 120)
    }

    @Test func nodataTakesTheNegativeTTLFromTheSOA() throws {
        let nodata = V.patch(V.nxdomain, V.nxFlags + 1, 0x80)
        #expect(try parse(nodata, id: 0x0BAD, name: "nope.example.com") == DNSAnswer(addresses: [], ttl: 300))
    }

    @Test func negativeAnswersWithoutAnSOAUseTheDefault() throws {
        let bare = Array(V.patch16(V.nxdomain, V.nxAuthorityCount - 1, 0)[0..<V.nxSOAOwner])
        let answer = try parse(bare, id: 0x0BAD, name: "nope.example.com")
        #expect(answer == DNSAnswer(addresses: [], ttl: DNSMessage.defaultNegativeTTL, rcode: .nameError))
    }

    @Test func anSOAOfAnAncestorZoneCounts() throws {
        // Point the SOA's owner at "com" in the question (offset 25): an ancestor of nope.example.com.
        let comSOA = V.patch(V.nxdomain, V.nxSOAOwner + 1, 25)
        #expect(try parse(comSOA, id: 0x0BAD, name: "nope.example.com").ttl == 300)
    }

    @Test func anSOAOfAnUnrelatedZoneIsIgnored() throws {
        // Replace the SOA's owner (a pointer to example.com) with "org", a zone nope.example.com is not in.
        var unrelated = V.nxdomain
        unrelated.replaceSubrange(V.nxSOAOwner..<(V.nxSOAOwner + 2), with: [0x03, 0x6F, 0x72, 0x67, 0x00])
        let answer = try parse(unrelated, id: 0x0BAD, name: "nope.example.com")
        #expect(answer == DNSAnswer(addresses: [], ttl: DNSMessage.defaultNegativeTTL, rcode: .nameError))
    }

    @Test func acceptsAnUpperCaseEchoOfTheQuestion() throws {
        var upper = V.a
        for offset in 13..<24 where upper[offset] >= 0x61 { upper[offset] -= 0x20 }
        #expect(upper[13...19].elementsEqual("EXAMPLE".utf8))
        #expect(try parse(upper, id: 0x1234, name: "example.com").addresses == [.v4([93, 184, 216, 34])])
        #expect(try parse(V.a, id: 0x1234, name: "Example.COM.").addresses.count == 1)
    }

    @Test func treatsTTLsWithTheTopBitSetAsZero() throws {
        let huge = V.patch(V.a, V.aAnswerTTL, 0x80)
        #expect(try parse(huge, id: 0x1234, name: "example.com").ttl == 0)
    }

    // MARK: - Failures, each with its code

    struct Failure: Sendable, CustomTestStringConvertible {
        var label: String
        var bytes: [UInt8]
        var id: UInt16 = 0x1234
        var name = "example.com"
        var type = DNSRecordType.a
        var code: DNSError.Code
        var testDescription: String { label }
    }

    static let failures: [Failure] = [
        Failure(label: "wrong id", bytes: V.patch(V.a, 1, 0x35), code: .idMismatch),
        Failure(label: "QR bit clear", bytes: V.patch(V.a, V.aFlags, 0x01), code: .notAResponse),
        Failure(label: "opcode STATUS", bytes: V.patch(V.a, V.aFlags, 0x81 | 2 << 3), code: .unexpectedOpcode),
        Failure(label: "TC bit", bytes: V.patch(V.a, V.aFlags, 0x83), code: .truncated),
        Failure(label: "TC bit on a cut message", bytes: Array(V.patch(V.a, V.aFlags, 0x83)[0..<40]), code: .truncated),
        Failure(label: "SERVFAIL", bytes: V.patch16(Array(V.a[0..<29]), 6, 0).with(3, 0x82), code: .serverFailure),
        Failure(label: "FORMERR", bytes: V.patch16(Array(V.a[0..<29]), 6, 0).with(3, 0x81), code: .formatError),
        Failure(label: "NOTIMP", bytes: V.a.with(3, 0x84), code: .notImplemented),
        Failure(label: "REFUSED", bytes: V.a.with(3, 0x85), code: .refused),
        Failure(label: "RCODE 9", bytes: V.a.with(3, 0x89), code: .unexpectedResponseCode),
        Failure(label: "answer count past the data", bytes: V.patch16(V.a, 6, 2), code: .countMismatch),
        Failure(label: "additional count past the data", bytes: V.patch16(V.a, 10, 1), code: .countMismatch),
        Failure(label: "answer count 65535", bytes: V.patch16(V.a, 6, 0xFFFF), code: .countMismatch),
        Failure(label: "question count 3", bytes: V.patch16(Array(V.a[0..<29]), 4, 3).with(7, 0), code: .countMismatch),
        Failure(label: "a byte after the last record", bytes: V.a + [0], code: .countMismatch),
        Failure(label: "A data of 5 bytes", bytes: V.patch(V.a, V.aAnswerRDLength, 5) + [0], code: .rdataLength),
        Failure(
            label: "A data of 3 bytes",
            bytes: Array(V.patch(V.a, V.aAnswerRDLength, 3).dropLast()),
            code: .rdataLength
        ),
        Failure(
            label: "AAAA data of 4 bytes",
            bytes: Array(V.patch(V.aaaa, 40, 4)[0..<45]),
            id: 0x4321,
            type: .aaaa,
            code: .rdataLength
        ),
        Failure(label: "record data past the end", bytes: V.patch(V.a, V.aAnswerRDLength, 9), code: .tooShort),
        Failure(label: "question type AAAA", bytes: V.patch(V.a, 26, 0x1C), code: .questionMismatch),
        Failure(label: "question class CH", bytes: V.patch(V.a, 28, 3), code: .questionMismatch),
        Failure(label: "question for another name", bytes: V.patch(V.a, 13, 0x66), code: .questionMismatch),
        Failure(label: "forward pointer", bytes: V.patch(V.a, 30, 31), code: .badPointer),
        Failure(label: "pointer to itself", bytes: V.patch(V.a, 30, 29), code: .badPointer),
        Failure(label: "pointer out of bounds", bytes: V.patch16(V.a, 29, 0xFFFF), code: .badPointer),
        Failure(label: "pointer into the header", bytes: V.patch(V.a, 30, 4), code: .badPointer),
        Failure(label: "extended label type", bytes: V.patch(V.a, 29, 0x41), code: .badLabelType),
        Failure(label: "reserved label type", bytes: V.patch(V.a, 29, 0x80), code: .badLabelType),
        Failure(label: "CNAME loop", bytes: V.cnameLoop, id: 0x0A0A, name: "a.example", code: .cnameChainTooLong),
        Failure(
            label: "SOA data one byte longer than its fields",
            bytes: V.patch16(V.nxdomain, 44, 39) + [0],
            id: 0x0BAD,
            name: "nope.example.com",
            code: .rdataLength
        ),
        Failure(label: "65536 bytes", bytes: V.a + [UInt8](repeating: 0, count: 65536 - 45), code: .messageTooLong),
        Failure(label: "11 bytes", bytes: Array(V.a[0..<11]), code: .tooShort),
        Failure(label: "empty", bytes: [], code: .tooShort),
    ]

    @Test(arguments: failures)
    func refusesWithTheRulesCode(failure: Failure) {
        #expect(throws: DNSError(failure.code, "")) {
            try DNSMessage.parseResponse(failure.bytes, expectedID: failure.id, name: failure.name, type: failure.type)
        }
    }

    @Test func anErrorResponseMayOmitTheQuestion() throws {
        // REFUSED with no question section at all.
        let bare: [UInt8] = [0x12, 0x34, 0x81, 0x05, 0, 0, 0, 0, 0, 0, 0, 0]
        #expect(throws: DNSError(.refused, "")) { try parse(bare, id: 0x1234, name: "example.com") }
        // A NOERROR response must still echo the question.
        let noQuestion: [UInt8] = [0x12, 0x34, 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 0]
        #expect(throws: DNSError(.questionMismatch, "")) { try parse(noQuestion, id: 0x1234, name: "example.com") }
        // An error response that does carry a question must carry ours.
        #expect(throws: DNSError(.questionMismatch, "")) {
            try parse(V.a.with(3, 0x82), id: 0x1234, name: "example.org")
        }
    }

    @Test func pointerLoopsEndAtTheJumpCap() throws {
        // The answer's owner at 29 is "a" then a pointer back to 29: each jump adds one label, forever.
        var bytes = Array(V.a[0..<29])
        bytes += [0x01, 0x61, 0xC0, 29, 0x00, 0x01, 0x00, 0x01, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]
        #expect(throws: DNSError(.pointerLoop, "")) { try parse(bytes, id: 0x1234, name: "example.com") }
        // With 40-byte labels the 255-byte limit is reached first.
        var long = Array(V.a[0..<29])
        long +=
            [40] + [UInt8](repeating: 0x61, count: 40) + [
                0xC0, 29, 0x00, 0x01, 0x00, 0x01, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4,
            ]
        #expect(throws: DNSError(.nameTooLong, "")) { try parse(long, id: 0x1234, name: "example.com") }
    }

    @Test func refusesAQuestionNameOver255Bytes() throws {
        // Four 63-byte labels and the root: 257 bytes on the wire.
        var bytes: [UInt8] = [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0]
        for _ in 0..<4 { bytes += [63] + [UInt8](repeating: 0x62, count: 63) }
        bytes += [0, 0, 1, 0, 1]
        #expect(throws: DNSError(.nameTooLong, "")) { try parse(bytes, id: 0x1234, name: "example.com") }
    }

    @Test func refusesTwoDifferentCNAMEsForOneName() throws {
        // Two CNAMEs for www.example.com with different targets.
        // Append a copy of the first CNAME (offsets 33..<63) whose target is "edgf.example.net".
        let copy = Array(V.cnameChain[33..<63]).with(16, 0x66)
        let bytes = V.patch16(V.cnameChain + copy, 6, 6)
        #expect(throws: DNSError(.conflictingCNAME, "")) { try parse(bytes, id: 0xBEEF, name: "www.example.com") }
    }

    /// Cutting a valid response anywhere must throw, and throw the right code: `countMismatch` when the cut falls
    /// between items, `tooShort` inside one.
    @Test(arguments: [
        (V.a, UInt16(0x1234), "example.com", DNSRecordType.a),
        (V.aaaa, 0x4321, "example.com", .aaaa),
        (V.cnameChain, 0xBEEF, "www.example.com", .a),
        (V.compression, 0x0001, "api.example.com", .a),
        (V.nxdomain, 0x0BAD, "nope.example.com", .a),
    ])
    func everyTruncationThrows(bytes: [UInt8], id: UInt16, name: String, type: DNSRecordType) throws {
        _ = try DNSMessage.parseResponse(bytes, expectedID: id, name: name, type: type)
        let boundaries = try Self.itemBoundaries(bytes)
        for cut in 0..<bytes.count {
            let expected: DNSError.Code = boundaries.contains(cut) ? .countMismatch : .tooShort
            #expect(throws: DNSError(expected, ""), "cut at \(cut)") {
                try DNSMessage.parseResponse(Array(bytes[0..<cut]), expectedID: id, name: name, type: type)
            }
        }
    }

    @Test func theAVectorsBoundariesAreWhereTheCommentsSay() throws {
        #expect(try Self.itemBoundaries(V.a) == V.aBoundaries)
    }

    /// Where each question and record starts, from a decoder independent of the one under test: it walks the
    /// sections with the header's counts, skipping names by their length bytes.
    static func itemBoundaries(_ bytes: [UInt8]) throws -> Set<Int> {
        func skipName(_ offset: inout Int) {
            while true {
                let length = Int(bytes[offset])
                if length >= 0xC0 {
                    offset += 2
                    return
                }
                offset += 1 + length
                if length == 0 { return }
            }
        }
        let count = { (at: Int) in Int(bytes[at]) << 8 | Int(bytes[at + 1]) }
        var offset = 12
        var boundaries: Set<Int> = [12]
        for _ in 0..<count(4) {
            skipName(&offset)
            offset += 4
            boundaries.insert(offset)
        }
        for _ in 0..<(count(6) + count(8) + count(10)) {
            skipName(&offset)
            offset += 8
            offset += 2 + count(offset)
            boundaries.insert(offset)
        }
        try #require(offset == bytes.count)
        return boundaries
    }
}

extension Array where Element == UInt8 {
    /// A copy with the byte at `offset` replaced.
    func with(_ offset: Int, _ value: UInt8) -> [UInt8] {
        var copy = self
        copy[offset] = value
        return copy
    }
}
