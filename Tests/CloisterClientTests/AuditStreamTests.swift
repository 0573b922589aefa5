import CBOR
import CloisterClient
import CloisterTestSupport
import EnclaveWire
import Foundation
import NitroAttestation
import SecureModule
import Testing

import EnclaveRuntime

/// The binary export form (`AuditStream`): written and read back, verified as a stream with the same verdicts as
/// the JSON form, and hostile files refused with their names.
@Suite struct AuditStreamTests {
    let verifier = AuditVerifier(trust: TestEnclave.trust, roots: TestEnclave.roots)

    /// Two boots, batches interleaved as a host logs them: a 3, b 1, a 5, b 4 (entry indexes 1...13).
    struct Fixture {
        var batches: [AuditBatch]
        var boots: [String: [UInt8]]
        var log: AuditLog
    }

    static func fixture() async throws -> Fixture { try fixture(try await TestEnclave(), try await TestEnclave()) }

    static func fixture(_ a: TestEnclave, _ b: TestEnclave) throws -> Fixture {
        let groups = [try a.batch(3), try b.batch(1), try a.batch(5), try b.batch(4)].map { $0.map(\.response.signed) }
        var index: Int64 = 0
        var batches: [AuditBatch] = []
        var entries: [AuditLog.Entry] = []
        for group in groups {
            var batch = AuditBatch(seal: group[0].seal, entries: [])
            for signed in group {
                index += 1
                batch.entries.append(AuditBatch.Entry(index: index, receipt: signed.receipt))
                entries.append(AuditLog.Entry(index: index, entry: signed.encoded))
            }
            batches.append(batch)
        }
        let boots = a.boots.merging(b.boots) { x, _ in x }
        return Fixture(batches: batches, boots: boots, log: AuditLog(source: "test", receipts: entries, boots: boots))
    }

    static func path() -> String { FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString).cbor").path }

    static func write(_ batches: [AuditBatch], boots: [String: [UInt8]]) throws -> String {
        let path = path()
        let writer = try AuditStreamWriter(path: path, source: "test")
        for hex in boots.keys.sorted() { try writer.addBoot(boots[hex]!) }
        for b in batches { try writer.append(b) }
        try writer.finish()
        return path
    }

    /// A report, or the failure of opening the file (its header).
    struct Outcome {
        var failure: ClientError?
        var failureIndex: Int64?
        var verified = 0
        var passed: Bool { failure == nil }
    }

    func verify(_ path: String) -> Outcome {
        do {
            let r = verifier.verify(try AuditStreamReader(path: path))
            return Outcome(failure: r.failure, failureIndex: r.failureIndex, verified: r.verified)
        } catch { return Outcome(failure: error) }
    }

    func verify(bytes: [UInt8]) throws -> Outcome {
        let path = Self.path()
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return verify(path)
    }

    @Test func exportRoundTrips() async throws {
        let f = try await Self.fixture()
        let path = Self.path()
        try f.log.write(streamTo: path)
        let reader = try AuditStreamReader(path: path)
        #expect(reader.header.source == "test")
        #expect(reader.header.boots == f.boots)
        #expect(reader.header.receipts == 13)
        var batches: [AuditBatch] = []
        while let r = try reader.next() { batches.append(try #require(r.batch)) }
        #expect(batches == f.batches)
        #expect(try reader.next() == nil)
        // One seal per batch, no proofs, no base64: smaller than the JSON form, whose boot documents take most of it.
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        let documents = f.boots.values.map(\.count).reduce(0, +)
        #expect((size - documents) * 2 < f.log.json.utf8.count - documents * 4 / 3)
    }

    @Test func streamedVerifyGivesTheInMemoryReport() async throws {
        let f = try await Self.fixture()
        let path = Self.path()
        try f.log.write(streamTo: path)
        var seen: [UInt64] = []
        let streamed = verifier.verify(try AuditStreamReader(path: path)) { seen.append($0.receipts) }
        let whole = verifier.verify(f.log)
        #expect(streamed.passed && whole.passed, "\(String(describing: streamed.failure))")
        #expect(streamed.verified == whole.verified)
        #expect(streamed.boots == whole.boots)
        #expect(streamed.deployment == whole.deployment)
        #expect(seen == [3, 4, 9, 13])
    }

    /// The same hostile edits as the JSON form's tests, with the same names.
    @Test func hostileLogsAreNamedAsInMemory() async throws {
        let f = try await Self.fixture()
        func check(_ batches: [AuditBatch], _ code: ClientError.Code, index: Int64?, _ comment: Comment, boots: [String: [UInt8]]? = nil) throws {
            let report = verify(try Self.write(batches, boots: boots ?? f.boots))
            #expect(report.failure?.code == code, comment)
            if let index { #expect(report.failureIndex == index, comment) }
        }
        var b = f.batches
        b[2].entries.remove(at: 1)  // a's receipt 5
        try check(b, .gap, index: 7, "a receipt dropped inside a batch")
        b = f.batches
        b[2].entries.removeLast()  // a's receipt 8, the batch's tail
        try check(b, .gap, index: nil, "a batch's tail dropped")
        b = f.batches
        b.remove(at: 1)  // b's only receipt 1
        try check(b, .gap, index: 10, "a whole batch dropped")
        b = f.batches
        b[2].entries.swapAt(0, 2)
        try check(b, .reorder, index: 7, "receipts swapped inside a batch")
        b = f.batches
        b.swapAt(0, 2)
        try check(b, .reorder, index: 5, "batches of one boot swapped")
        b = f.batches
        b.insert(AuditBatch(seal: f.batches[0].seal, entries: [f.batches[0].entries[1]]), at: 2)
        try check(b, .reorder, index: 2, "a receipt repeated")
        b = f.batches
        var receipt = try Receipt(encoded: b[2].entries[3].receipt)
        receipt.resultHash[0] ^= 1
        b[2].entries[3].receipt = receipt.encoded
        try check(b, .proofInvalid, index: 5, "a receipt edited")
        b = f.batches
        b[2].seal = f.batches[0].seal
        try check(b, .sealMismatch, index: 5, "a batch whose seal does not cover its receipts")
        b = f.batches
        b[1].seal = f.batches[3].seal
        try check(b, .sealMismatch, index: 4, "a batch under the seal of a later batch")
        b = f.batches
        b[0].entries[0].receipt = [0xA0]
        try check(b, .malformedResponse, index: 1, "a receipt that is not one")
        try check(f.batches, .missingAttestation, index: 1, "no boot documents", boots: [:])
    }

    @Test func aSealByAnUnattestedKeyIsNamed() async throws {
        let f = try await Self.fixture()
        // The host seals batch 2 again with a key of its own, over the same root.
        var b = f.batches
        let envelope = try COSESign1(try CBORDecoder.decode(b[2].seal))
        let key = try P384Key.generate()
        let signature = try key.signES384(COSESign1.signedBytes(protectedHeader: Seal.protectedHeader, payload: envelope.payload))
        b[2].seal = COSESign1.encode(protectedHeader: Seal.protectedHeader, payload: envelope.payload, signature: signature)
        let report = verify(try Self.write(b, boots: f.boots))
        #expect(report.failure?.code == .signatureInvalid)
        #expect(report.failureIndex == 5)
        #expect(report.verified == 4)
    }

    @Test func aBootOfAnotherDeploymentIsNamed() async throws {
        let f = try Self.fixture(
            try await TestEnclave(deployment: AuditDeploymentTests.first), try await TestEnclave(deployment: AuditDeploymentTests.second))
        let report = verify(try Self.write(f.batches, boots: f.boots))
        #expect(report.failure?.code == .deploymentChanged)
        #expect(report.failureIndex == 4)
        #expect(report.verified == 3)
    }

    @Test func aChainFromAnotherChainOfTheSameKeyIsBroken() async throws {
        let a = try await TestEnclave()
        let other = ReceiptChain(identity: a.identity)
        let first = try a.batch(2).map(\.response.signed)
        var third: SignedReceipt?
        for id in ["x", "y", "z"] {
            let job = QueueJob(id: 9, requestID: id, tenant: "acme", operation: "echo", body: [], attempt: 1)
            let sealed = try other.sealUnlogged([.init(job: job, requestHash: Receipt.genesis, status: "ok", result: [])])
            third = try SignedReceipt(encoded: sealed[0].result.receipt)
        }
        let batches = [
            AuditBatch(seal: first[0].seal, entries: [.init(index: 1, receipt: first[0].receipt), .init(index: 2, receipt: first[1].receipt)]),
            AuditBatch(seal: third!.seal, entries: [.init(index: 3, receipt: third!.receipt)]),
        ]
        let report = verify(try Self.write(batches, boots: a.boots))
        #expect(report.failure?.code == .chainBroken)
        #expect(report.failureIndex == 3)
        #expect(report.verified == 2)
    }

    @Test func truncatedFilesAreRefusedAtEveryRecordBoundaryAndInside() async throws {
        let f = try await Self.fixture()
        let path = Self.path()
        try f.log.write(streamTo: path)
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        var boundaries: [Int] = []
        let reader = try AuditStreamReader(path: path)
        boundaries.append(reader.offset)
        while try reader.next() != nil { boundaries.append(reader.offset) }
        #expect(boundaries.count == 5)
        #expect(boundaries.last! < bytes.count)
        var cuts = [0, 1, boundaries[0] / 2] + boundaries
        for (x, y) in zip(boundaries, boundaries.dropFirst() + [bytes.count]) { cuts += [x + 1, (x + y) / 2, y - 1] }
        for cut in Set(cuts) where cut < bytes.count {
            let report = try verify(bytes: Array(bytes[..<cut]))
            #expect(report.failure?.code == .truncatedLog, "cut at \(cut) of \(bytes.count): \(String(describing: report.failure))")
        }
        #expect(try verify(bytes: bytes).passed)
    }

    @Test(arguments: [
        ("trailing byte", [0x00] as [UInt8], ClientError.Code.malformedLog),
        ("trailing record", [0x83, 0x63, 0x65, 0x6E, 0x64, 0x0D, 0x04], .malformedLog),
    ])
    func trailingBytesAreRefused(_ name: String, _ tail: [UInt8], _ code: ClientError.Code) async throws {
        let f = try await Self.fixture()
        let path = Self.path()
        try f.log.write(streamTo: path)
        let report = try verify(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: path))) + tail)
        #expect(report.failure?.code == code, "\(name): \(String(describing: report.failure))")
    }

    /// A header with no boots, then one hand-made record.
    static let header: [UInt8] = {
        var out: [UInt8] = [0xA2]
        out += [0x66] + Array("format".utf8) + [0x75] + Array(AuditStream.format.utf8)
        out += [0x65] + Array("boots".utf8) + [0x80]
        return out
    }()

    static let batchKind: [UInt8] = [0x83, 0x65] + Array("batch".utf8)
    static let hostileRecords: [(String, [UInt8])] = {
        var r: [(String, [UInt8])] = []
        r.append(("a batch of 5000 receipts", batchKind + [0x40, 0x99, 0x13, 0x88]))
        r.append(("a receipt of 2^40 bytes", batchKind + [0x40, 0x81, 0x82, 0x01, 0x5B, 0, 0, 1, 0, 0, 0, 0, 0]))
        r.append(("a seal of 4 GiB", batchKind + [0x5A, 0xFF, 0xFF, 0xFF, 0xFF]))
        r.append(("an unknown record kind", [0x81, 0x64] + Array("what".utf8)))
        r.append(("an indefinite array", [0x9F]))
        r.append(("a head not in shortest form", [0x98, 0x03]))
        r.append(("an end record that miscounts", [0x83, 0x63] + Array("end".utf8) + [0x01, 0x00]))
        r.append(("an empty batch", batchKind + [0x40, 0x80]))
        return r
    }()

    @Test(arguments: hostileRecords)
    func oversizedOrMalformedRecordsAreRefused(_ name: String, _ record: [UInt8]) throws {
        let report = try verify(bytes: Self.header + record)
        #expect(report.failure?.code == .malformedLog, "\(name): \(String(describing: report.failure))")
    }

    @Test func aFileOfNoReceiptsPasses() throws {
        let report = try verify(bytes: Self.header + [0x83, 0x63] + Array("end".utf8) + [0x00, 0x00])
        #expect(report.passed && report.verified == 0, "\(String(describing: report.failure))")
        #expect(try verify(bytes: [0xA2, 0x66] + Array("format".utf8) + [0x63] + Array("xyz".utf8)).failure?.code == .malformedLog)
    }
}
