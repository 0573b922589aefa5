import CBOR
import Testing

@testable import EnclaveWire

@Suite struct QueueMessageTests {
    static func parse(_ bytes: [UInt8]) throws(WireError) { _ = try QueueMessage(encoded: bytes) }

    static let job = QueueJob(
        id: 1, requestID: "req-1", tenant: "acme", operation: "echo", body: Array("hello".utf8), attempt: 1)
    static let result = QueueResult(
        jobID: 1, sequence: 1, status: "ok", response: filled(0x0A, 40), receipt: filled(0x0B, 30))

    static let messages: [QueueMessage] = [
        .pull(max: 1, waitMs: 0),
        .pull(max: UInt32(QueueMessage.maxBatch), waitMs: 600_000),
        .work(jobs: [], attestations: []),
        .work(jobs: [job], attestations: []),
        .work(jobs: [], attestations: [.init(id: 9, nonce: filled(0x4E, 20))]),
        .work(
            jobs: [
                job,
                QueueJob(
                    id: .max, requestID: String(repeating: "R", count: 64), tenant: String(repeating: "t", count: 64),
                    operation: "0-a_b.c", body: [], attempt: .max),
            ],
            attestations: [.init(id: 0, nonce: []), .init(id: .max, nonce: filled(0x4E, QueueMessage.maxNonce))]),
        .results(batch: 0, boot: filled(0xB0), items: [result]),
        .results(
            batch: .max, boot: filled(0xB1),
            items: [
                result, QueueResult(jobID: .max, sequence: .max, status: "Timeout:E.1-x_y", response: [], receipt: []),
            ]),
        .ack(batch: 0),
        .ack(batch: .max),
        .attestation(id: 4, document: [0x84, 0x40]),
        .attestation(id: .max, document: filled(0xD2, 5000)),
        .attestationFailed(id: 5, reason: ""),
        .attestationFailed(id: 6, reason: "nsm unavailable: ☃"),
    ]

    @Test(arguments: messages)
    func roundTrips(message: QueueMessage) throws {
        #expect(try QueueMessage(encoded: message.encoded) == message)
        #expect(try QueueMessage(encoded: message.encoded, maxSize: message.encoded.count) == message)
    }

    /// The largest batches both ways: every job and every attestation request a message may hold at once.
    @Test func fullBatchesRoundTrip() throws {
        let jobs = (0..<QueueMessage.maxBatch).map { i in
            QueueJob(
                id: UInt64(i), requestID: "r\(i)", tenant: "acme", operation: "echo",
                body: [UInt8(truncatingIfNeeded: i)], attempt: 1)
        }
        let attestations = (0..<QueueMessage.maxBatch).map {
            QueueMessage.AttestationRequest(id: UInt64($0), nonce: [1, 2])
        }
        let items = (0..<QueueMessage.maxBatch).map { i in
            QueueResult(jobID: UInt64(i), sequence: UInt64(i + 1), status: "ok", response: [1], receipt: [2])
        }
        let full: [QueueMessage] = [
            .work(jobs: jobs, attestations: []),
            .work(jobs: [], attestations: attestations),
            .work(jobs: jobs, attestations: attestations),
            .results(batch: 1, boot: filled(0xB0), items: items),
        ]
        for message in full {
            #expect(try QueueMessage(encoded: message.encoded) == message)
        }
    }

    @Test func failureReasonsAreCutTo512Characters() throws {
        let long = String(repeating: "x", count: 600)
        let parsed = try QueueMessage(encoded: QueueMessage.attestationFailed(id: 1, reason: long).encoded)
        #expect(parsed == .attestationFailed(id: 1, reason: String(repeating: "x", count: 512)))
    }

    // MARK: - Refusals

    static func jobItem(
        id: CBOR = 1, requestID: CBOR = "req-1", tenant: CBOR = "acme", operation: CBOR = "echo",
        body: CBOR = .bytes([1]), attempt: CBOR = 1
    ) -> CBOR {
        [id, requestID, tenant, operation, body, attempt]
    }

    static func work(jobs: [CBOR] = [jobItem()], attestations: [CBOR] = [[1, .bytes([1])]]) -> CBOR {
        [.unsigned(1), .array(jobs), .array(attestations)]
    }

    static func resultItem(
        jobID: CBOR = 1, sequence: CBOR = 1, status: CBOR = "ok", response: CBOR = .bytes([1]),
        receipt: CBOR = .bytes([2])
    ) -> CBOR {
        [jobID, sequence, status, response, receipt]
    }

    static func results(batch: CBOR = 1, boot: CBOR = .bytes(filled(0xB0)), items: [CBOR] = [resultItem()]) -> CBOR {
        [.unsigned(2), batch, boot, .array(items)]
    }

    /// Each refusal below changes one thing of these, so each must parse as it is.
    @Test func refusalBasesParse() throws {
        _ = try QueueMessage(encoded: CBOREncoder.encode(Self.work()))
        _ = try QueueMessage(encoded: CBOREncoder.encode(Self.results()))
    }

    static let refused: [Refusal<WireError.Code>] = {
        let malformed = WireError.Code.malformedMessage
        var out: [Refusal<WireError.Code>] = [
            Refusal("pull max 0", [0, 0, 0], malformed),
            Refusal("pull max maxBatch + 1", [0, .unsigned(UInt64(QueueMessage.maxBatch) + 1), 0], malformed),
            Refusal("pull max 2^32 + 1", [0, .unsigned(1 << 32 + 1), 0], malformed),
            Refusal("pull wait 600001", [0, 1, 600_001], malformed),
            Refusal("pull wait 2^64-1", [0, 1, .unsigned(.max)], malformed),
            Refusal("pull max negative", [0, -1, 0], malformed),
            Refusal("pull max as text", [0, "1", 0], malformed),
            Refusal("pull wait as float", [0, 1, .float(1)], malformed),
        ]
        let jobs: [(String, CBOR)] = [
            ("request id with a space", jobItem(requestID: "req 1")),
            ("request id of 65 bytes", jobItem(requestID: .text(String(repeating: "r", count: 65)))),
            ("empty request id", jobItem(requestID: "")),
            ("request id as bytes", jobItem(requestID: .bytes(Array("req-1".utf8)))),
            ("uppercase tenant", jobItem(tenant: "Acme")),
            ("tenant starting with a dash", jobItem(tenant: "-acme")),
            ("empty tenant", jobItem(tenant: "")),
            ("operation with a colon", jobItem(operation: "e:cho")),
            ("uppercase operation", jobItem(operation: "Echo")),
            ("attempt 0", jobItem(attempt: 0)),
            ("attempt 2^32", jobItem(attempt: .unsigned(1 << 32))),
            ("body as text", jobItem(body: "hello")),
            ("negative id", jobItem(id: -1)),
            ("job of 5 fields", [1, "req-1", "acme", "echo", .bytes([1])]),
            ("job of 7 fields", [1, "req-1", "acme", "echo", .bytes([1]), 1, 0]),
            ("job as a map", .map([0: 1, 1: "req-1", 2: "acme", 3: "echo", 4: .bytes([1]), 5: 1])),
            (
                "job as a map with text keys",
                .map(["id": 1, "requestID": "req-1", "tenant": "acme", "op": "echo", "attempt": 1])
            ),
            ("job as bytes", .bytes(CBOREncoder.encode(jobItem()))),
        ]
        for (name, item) in jobs {
            out.append(Refusal("work: \(name)", work(jobs: [jobItem(), item]), malformed))
        }
        let requests: [(String, CBOR)] = [
            ("nonce of maxNonce + 1", [1, .bytes(filled(0x4E, QueueMessage.maxNonce + 1))]),
            ("nonce as text", [1, "nonce"]),
            ("negative id", [-1, .bytes([1])]),
            ("request of 1 field", [1]),
            ("request of 3 fields", [1, .bytes([1]), 0]),
            ("request as a map", .map([1: .bytes([1])])),
        ]
        for (name, item) in requests {
            out.append(Refusal("work: \(name)", work(attestations: [[2, .bytes([])], item]), malformed))
        }
        let tooMany = QueueMessage.maxBatch + 1
        out += [
            Refusal("work: maxBatch + 1 jobs", work(jobs: Array(repeating: jobItem(), count: tooMany)), malformed),
            Refusal(
                "work: maxBatch + 1 attestation requests",
                work(attestations: Array(repeating: [1, .bytes([])], count: tooMany)), malformed),
            Refusal("work: jobs as a map", [1, .map([0: jobItem()]), []], malformed),
            Refusal("work: attestations as null", [1, [], nil], malformed),
        ]
        let items: [(String, CBOR)] = [
            ("seq 0", resultItem(sequence: 0)),
            ("status with a space", resultItem(status: "not ok")),
            ("empty status", resultItem(status: "")),
            ("status of 65 bytes", resultItem(status: .text(String(repeating: "E", count: 65)))),
            ("response as text", resultItem(response: "r")),
            (
                "response of SignedResponse.maxSize + 1",
                resultItem(response: .bytes(filled(0, SignedResponse.maxSize + 1)))
            ),
            ("receipt of SignedReceipt.maxSize + 1", resultItem(receipt: .bytes(filled(0, SignedReceipt.maxSize + 1)))),
            ("item of 4 fields", [1, 1, "ok", .bytes([1])]),
            ("item of 6 fields", [1, 1, "ok", .bytes([1]), .bytes([2]), 0]),
            ("item as a map", .map([0: 1, 1: 1, 2: "ok", 3: .bytes([1]), 4: .bytes([2])])),
        ]
        for (name, item) in items {
            out.append(Refusal("results: \(name)", results(items: [resultItem(), item]), malformed))
        }
        out += [
            Refusal("results: no items", results(items: []), malformed),
            Refusal(
                "results: maxBatch + 1 items", results(items: Array(repeating: resultItem(), count: tooMany)), malformed
            ),
            Refusal("results: boot of 31 bytes", results(boot: .bytes(filled(0xB0, 31))), malformed),
            Refusal("results: boot of 33 bytes", results(boot: .bytes(filled(0xB0, 33))), malformed),
            Refusal("results: boot as text", results(boot: .text(String(repeating: "b", count: 32))), malformed),
            Refusal("results: negative batch", results(batch: -1), malformed),
            Refusal("ack: batch as text", [3, "1"], malformed),
            Refusal("attestation: empty document", [4, 1, .bytes([])], malformed),
            Refusal("attestation: document as text", [4, 1, "doc"], malformed),
            Refusal("attestationFailed: reason as bytes", [5, 1, .bytes([1])], malformed),
            Refusal("attestationFailed: negative id", [5, -1, "no"], malformed),
            Refusal("unknown tag 6", [6, 1], malformed),
            Refusal("unknown tag 2^64-1", [.unsigned(.max), 1], malformed),
            Refusal("tag as text", ["pull", 1, 0], malformed),
            Refusal("negative tag", [-1, 1, 0], malformed),
            Refusal("empty array", [], malformed),
            Refusal("a map", .map([0: 1, 1: 0]), malformed),
            Refusal("an integer", 0, malformed),
            Refusal("tagged array", .tagged(1, [0, 1, 0]), malformed),
        ]
        // Every tag with one field too few and one too many.
        out += fieldCountRefusals(messages) { $0.encoded }
        for tag in 0...5 {
            out.append(Refusal("tag \(tag) alone", [.unsigned(UInt64(tag))], malformed))
        }
        // Refused by the CBOR layer before the message is looked at.
        out += [
            Refusal("no bytes", bytes: [], .malformedCBOR),
            Refusal("a break byte", bytes: [0xFF], .malformedCBOR),
            Refusal("a reserved initial byte", bytes: [0x1C], .malformedCBOR),
            Refusal("an array missing its items", bytes: [0x83, 0x00], .malformedCBOR),
            Refusal("a trailing byte", bytes: QueueMessage.ack(batch: 1).encoded + [0x00], .malformedCBOR),
            Refusal("a reason that is not UTF-8", bytes: [0x83, 0x05, 0x01, 0x62, 0xC3, 0x28], .malformedCBOR),
            Refusal("nested four deep", [1, [[[1]]], []], .malformedCBOR),
            Refusal("a duplicate key", bytes: [0xA2, 0x00, 0x00, 0x00, 0x01], .malformedCBOR),
        ]
        return out
    }()

    @Test(arguments: refused)
    func refusesWithItsCode(refusal: Refusal<WireError.Code>) { expectRefused(refusal, by: Self.parse) }

    @Test func refusesMessagesOverMaxSize() throws {
        let bytes = QueueMessage.attestation(id: 1, document: filled(1, 100)).encoded
        #expect(throws: WireError(.malformedCBOR)) { try QueueMessage(encoded: bytes, maxSize: bytes.count - 1) }
        let big = QueueMessage.attestation(id: 1, document: filled(1, WireFrame.defaultMaxFrameSize)).encoded
        #expect(throws: WireError(.malformedCBOR)) { try QueueMessage(encoded: big) }
    }

    /// Declared lengths far past the bytes present are refused from the head alone: nothing is reserved for
    /// them (a reservation of 2^64 items would trap), and the refusal takes no time.
    @Test(
        arguments: [
            [0x9B] + filled(0xFF, 8), [0x9B, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00], [0x9A] + filled(0xFF, 4),
            [0x83, 0x01, 0x9B] + filled(0xFF, 8), [0x83, 0x01, 0x81, 0x9B] + filled(0xFF, 8), [0x5B] + filled(0xFF, 8),
            [0x83, 0x04, 0x01, 0x5A] + filled(0xFF, 4), [0x83, 0x05, 0x01, 0x7B] + filled(0xFF, 8),
            [0xBB] + filled(0xFF, 8),
        ] as [[UInt8]])
    func hugeDeclaredLengthsAreRefusedQuickly(bytes: [UInt8]) {
        let elapsed = ContinuousClock().measure {
            #expect(throws: WireError(.malformedCBOR)) { try QueueMessage(encoded: bytes) }
        }
        #expect(elapsed < .seconds(1))
    }

    @Test(arguments: messages)
    func refusesEveryTruncation(message: QueueMessage) { expectEveryTruncationRefused(message.encoded, by: Self.parse) }
}
