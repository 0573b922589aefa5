import CBOR
import EnclaveWire
import Foundation
import GRDB
import Testing
import TransparencyLog

@testable import HostRuntime

/// A log head record brings the signed receipts of the batch that made it, so that the host holds every receipt
/// the log counts even when the enclave stops before its results arrive (docs/log.md, "Each batch").
@Suite struct LogHeadFilingTests {
    static func signed(boot: [UInt8], sequence: UInt64, index: UInt64) -> [UInt8] {
        let receipt = Receipt(
            boot: boot, sequence: sequence, previous: Receipt.genesis, requestID: "r\(sequence)", tenant: "acme", operation: "echo",
            requestHash: [UInt8](repeating: 1, count: 32), resultHash: [UInt8](repeating: 2, count: 32), status: "ok", time: 1)
        return SignedReceipt(
            receipt: receipt.encoded, seal: [UInt8](repeating: 3, count: 64), proof: [], index: index, head: Array("head\n".utf8), logProof: []
        ).encoded
    }

    @Test func aHeadsBatchIsFiledOnceAndItsResultsDoNotFileItAgain() async throws {
        let f = try QueueFixture()
        let boot = [UInt8](repeating: 9, count: 32)
        let batch = (0..<3).map { Self.signed(boot: boot, sequence: UInt64($0 + 1), index: UInt64($0 + 10)) }
        try await f.database.pool.write { db in try JobQueue.file(receipts: batch + [[0xFF, 0x00]], received: 5, in: db) }
        try await f.database.pool.write { db in try JobQueue.file(receipts: batch, received: 6, in: db) }
        let rows = try await f.database.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT seq, log_index, leaf, entry, received FROM receipts ORDER BY seq")
        }
        #expect(rows.map { $0[0] as Int64 } == [1, 2, 3])
        #expect(rows.map { $0[1] as Int64 } == [10, 11, 12])
        #expect(rows.map { $0[4] as Int64 } == [5, 5, 5], "filed once: the second time leaves them as they are")
        for (row, entry) in zip(rows, batch) {
            #expect(Array(row[3] as Data) == entry)
            #expect(Array(row[2] as Data) == TreeHash.leaf(try SignedReceipt(encoded: entry).receipt))
        }
    }

    @Test func theRecordKeepsItsBatchAndRefusesAMalformedOne() throws {
        let batch = (0..<2).map { Self.signed(boot: [UInt8](repeating: 1, count: 32), sequence: UInt64($0 + 1), index: UInt64($0)) }
        let record = LogHeadRecord(size: 2, hashes: [[UInt8](repeating: 7, count: 32)], checkpoint: Array("note".utf8), batch: batch)
        #expect(try LogHeadRecord(encoded: record.encoded) == record)
        // Without a batch the record is what earlier builds wrote.
        let bare = LogHeadRecord(size: 2, hashes: [[UInt8](repeating: 7, count: 32)], checkpoint: Array("note".utf8))
        #expect(try LogHeadRecord(encoded: bare.encoded).batch.isEmpty)
        #expect(bare.encoded.count < record.encoded.count)
        let empty = CBOREncoder.encode(
            .map(CBORMap([("v", 1), ("size", 2), ("hashes", .array([.bytes([UInt8](repeating: 7, count: 32))])), ("checkpoint", .bytes([1])), ("batch", .array([]))])))
        #expect(throws: EnvelopeError.self) { try LogHeadRecord(encoded: empty) }
        let notBytes = CBOREncoder.encode(
            .map(CBORMap([("v", 1), ("size", 2), ("hashes", .array([])), ("checkpoint", .bytes([1])), ("batch", .array([.unsigned(1)]))])))
        #expect(throws: EnvelopeError.self) { try LogHeadRecord(encoded: notBytes) }
    }
}
