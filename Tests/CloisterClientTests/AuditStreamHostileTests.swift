import CloisterClient
import Foundation
import Testing

/// Hostile bytes for the export's reader, version 2: oversized declared lengths, counts out of range, records of
/// the wrong version, cuts at and between every record of a log with heads, and random mutations through the fuzz
/// target's invariants (`AuditStreamFuzzing`, what `Scripts/fuzz-audit` runs).
@Suite struct AuditStreamHostileTests {
    static func text(_ s: String) -> [UInt8] { [0x60 | UInt8(s.utf8.count)] + Array(s.utf8) }

    /// A header of `format` with no boots, and optionally a head.
    static func header(_ format: String = AuditStream.format, head: [UInt8]? = nil) -> [UInt8] {
        var out: [UInt8] = [head == nil ? 0xA2 : 0xA3] + text("format") + [0x75] + Array(format.utf8)
        if let head {
            let n = head.count
            out += text("head") + (n < 24 ? [0x40 | UInt8(n)] : n < 256 ? [0x58, UInt8(n)] : [0x59, UInt8(n >> 8), UInt8(n & 0xFF)]) + head
        }
        return out + text("boots") + [0x80]
    }

    static let end: [UInt8] = [0x83] + text("end") + [0x00, 0x00]
    static let oneEntry: [UInt8] = [0x81, 0x82, 0x00, 0x40]

    static let cases: [(String, [UInt8], ClientError.Code)] = [
        ("a batch whose head declares 4 GiB", header() + [0x84] + text("batch") + [0x40] + oneEntry + [0x5A, 0xFF, 0xFF, 0xFF, 0xFF], .malformedLog),
        ("a batch whose head is 8193 bytes", header() + [0x84] + text("batch") + [0x40] + oneEntry + [0x59, 0x20, 0x01], .malformedLog),
        ("a batch of five items", header() + [0x85] + text("batch") + [0x40] + oneEntry + [0x40, 0x40], .malformedLog),
        ("a batch whose head is not a byte string", header() + [0x84] + text("batch") + [0x40] + oneEntry + [0x00], .malformedLog),
        ("an index of 2^53", header() + [0x84] + text("batch") + [0x40, 0x81, 0x82, 0x1B, 0, 0x20, 0, 0, 0, 0, 0, 0, 0x40, 0x40], .malformedLog),
        ("a gap of no index", header() + [0x83] + text("gap") + [0x00, 0x00] + end, .malformedLog),
        ("a gap past 2^53", header() + [0x83] + text("gap") + [0x1B, 0, 0x1F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02] + end, .malformedLog),
        ("a gap of 2^64 - 1 indexes", header() + [0x83] + text("gap") + [0x00, 0x1B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF] + end, .malformedLog),
        ("a gap of four items", header() + [0x84] + text("gap") + [0x00, 0x01, 0x01] + end, .malformedLog),
        ("a gap in a version 1 file", header(AuditStream.formatVersion1) + [0x83] + text("gap") + [0x00, 0x01] + end, .malformedLog),
        ("a batch with a head in a version 1 file", header(AuditStream.formatVersion1) + [0x84] + text("batch") + [0x40] + oneEntry + [0x40], .malformedLog),
        ("a head in a version 1 header", header(AuditStream.formatVersion1, head: [0x41]) + end, .malformedLog),
        ("a header head of 9000 bytes", header(head: [UInt8](repeating: 0x41, count: 9000)) + end, .malformedLog),
        ("a header head after the boots", [0xA3] + text("format") + [0x75] + Array(AuditStream.format.utf8) + text("boots") + [0x80] + text("head") + [0x41, 0x41] + end, .malformedLog),
        ("a marked gap", header() + [0x83] + text("gap") + [0x00, 0x02] + end, .receiptMissing),
        ("a final head not signed by any deployment", header(head: Array("cloister/00\n1\nAAAA\n\n— x AAAA\n".utf8)) + end, .logProofInvalid),
    ]

    static func verify(_ bytes: [UInt8]) -> ClientError? {
        do {
            let verifier = AuditVerifier(trust: TestEnclave.trust, roots: TestEnclave.roots)
            return verifier.verify(try AuditStreamReader(bytes: bytes)).failure
        } catch { return error }
    }

    @Test(arguments: cases)
    func hostileRecordsAreRefusedByName(_ name: String, _ bytes: [UInt8], _ code: ClientError.Code) {
        let failure = Self.verify(bytes)
        #expect(failure?.code == code, "\(name): \(String(describing: failure))")
        AuditStreamFuzzing.fuzz(bytes)
    }

    @Test func aVersion1FileIsStillRead() throws {
        #expect(Self.verify(Self.header(AuditStream.formatVersion1) + Self.end) == nil)
        #expect(Self.verify(Self.header() + Self.end) == nil)
    }

    /// A log with heads, cut at every record boundary, one byte either side of each, and halfway through each.
    @Test func aLogWithHeadsCutAnywhereIsTruncated() async throws {
        let f = try await AuditLogStreamTests.fixture()
        let path = try AuditLogStreamTests.write(f.records + [.gap(from: 13, count: 1)], boots: f.boots, head: f.head)
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let reader = try AuditStreamReader(bytes: bytes)
        var boundaries = [reader.offset]
        while try reader.next() != nil { boundaries.append(reader.offset) }
        #expect(boundaries.count == 6)
        var cuts = [0, 1, boundaries[0] / 2]
        for (x, y) in zip(boundaries, boundaries.dropFirst() + [bytes.count]) { cuts += [x, x + 1, (x + y) / 2, y - 1] }
        for cut in Set(cuts) where cut < bytes.count {
            // Once the gap record is whole, the verifier stops at it: a receipt is missing whatever follows.
            let failure = Self.verify(Array(bytes[..<cut]))
            let code: ClientError.Code = cut < boundaries[5] ? .truncatedLog : .receiptMissing
            #expect(failure?.code == code, "cut at \(cut) of \(bytes.count): \(String(describing: failure))")
        }
        #expect(Self.verify(bytes)?.code == .receiptMissing, "whole, the file ends in a gap")
    }

    /// Random edits of a real export with heads: flipped, inserted, deleted and repeated bytes, each through the fuzz
    /// target's invariants (a trap fails the test run).
    @Test func mutatedExportsKeepTheReadersInvariants() async throws {
        let f = try await AuditLogStreamTests.fixture()
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: try AuditLogStreamTests.write(f.records, boots: f.boots, head: f.head))))
        AuditStreamFuzzing.fuzz(bytes)
        var rng = SystemRandomNumberGenerator()
        // Most edits land in the boot documents at the front; half of them aim at the records after them.
        let records = try AuditStreamReader(bytes: bytes).offset
        for _ in 0..<1500 {
            var input = bytes
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let i = Bool.random(using: &rng) ? Int.random(in: records..<input.count, using: &rng) : Int.random(in: 0..<input.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: input[i] ^= UInt8.random(in: 1...255, using: &rng)
                case 1: input.insert(UInt8.random(in: 0...255, using: &rng), at: i)
                case 2: input.remove(at: i)
                default: input.insert(contentsOf: input[i..<min(i + 16, input.count)], at: i)
                }
            }
            AuditStreamFuzzing.fuzz(input)
        }
    }
}
