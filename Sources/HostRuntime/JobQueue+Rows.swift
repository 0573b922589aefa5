import EnclaveWire
import Foundation
import GRDB

/// The queue's reads and writes of single rows, inside a transaction it already holds.
extension JobQueue {
    /// A tenant's job under a request id: its id, request hash and completion, if any.
    static func stored(_ db: Database, tenantID: Int64, requestID: String) throws -> (Int64, [UInt8], JobCompletion?)? {
        guard let r = try Row.fetchOne(
            db, sql: "SELECT id, request_hash, status, seq, response FROM jobs WHERE tenant_id = ? AND request_id = ?",
            arguments: [tenantID, requestID])
        else { return nil }
        let id: Int64 = r[0]
        var completion: JobCompletion?
        if let status: String = r[2], let seq: Int64 = r[3], let response: Data = r[4] {
            completion = JobCompletion(jobID: UInt64(id), status: status, sequence: UInt64(seq), response: response.bytes)
        }
        return (id, (r[1] as Data).bytes, completion)
    }

    static func reused(_ requestID: String) -> APIError {
        APIError(409, "requestIdReused", "request id \(requestID) was used before for a different operation or body")
    }

    static func completion(_ db: Database, jobID: UInt64) throws -> JobCompletion? {
        guard let r = try Row.fetchOne(db, sql: "SELECT status, seq, response FROM jobs WHERE id = ? AND completed IS NOT NULL", arguments: [Int64(jobID)]) else {
            return nil
        }
        return JobCompletion(jobID: jobID, status: r[0], sequence: UInt64(r[1] as Int64), response: (r[2] as Data).bytes)
    }

    /// Files signed receipts that came with a log head (before their results): each under its boot and sequence,
    /// with what `ReceiptFiling` reads of it; one already filed is left as it is. What does not parse is not filed.
    static func file(receipts: [[UInt8]], received: Int64, in db: Database) throws {
        let statement = try db.cachedStatement(
            sql: "INSERT INTO receipts (boot, seq, entry, received, log_index, leaf, tenant) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (boot, seq) DO NOTHING")
        for entry in receipts {
            let filed = ReceiptFiling(entry)
            guard let signed = try? SignedReceipt(encoded: entry), let receipt = try? Receipt(encoded: signed.receipt),
                receipt.sequence <= UInt64(Int64.max), let index = filed.logIndex, let leaf = filed.leaf
            else { continue }
            try statement.execute(arguments: [Data(receipt.boot), Int64(receipt.sequence), Data(entry), received, index, Data(leaf), filed.tenant])
        }
    }
}
