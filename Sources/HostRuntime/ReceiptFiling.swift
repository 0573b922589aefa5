import EnclaveWire
import Foundation
import GRDB
import TransparencyLog

/// What the host files beside a signed receipt, read from it: its place in the deployment log (index and leaf
/// hash) and the tenant it names. The host checks none of it (clients and auditors do, against the seals and
/// heads); it only indexes by it.
struct ReceiptFiling: Sendable, Hashable {
    /// The receipt's index in the deployment log (nil: a receipt outside it).
    var logIndex: Int64?
    /// `TreeHash.leaf` of the receipt (nil: a receipt outside the log).
    var leaf: [UInt8]?
    /// The tenant the receipt names (nil: the entry is not a signed receipt).
    var tenant: String?

    init(_ entry: [UInt8]) {
        guard let signed = try? SignedReceipt(encoded: entry) else { return }
        tenant = (try? Receipt(encoded: signed.receipt))?.tenant
        if let index = signed.index, index <= UInt64(Int64.max) {
            logIndex = Int64(index)
            leaf = TreeHash.leaf(signed.receipt)
        }
    }
}

extension HostDatabase {
    /// Migration `v3-receipt-tenant`: each receipt's tenant, as its receipt names it, so that a tenant's token reads
    /// that tenant's receipts only. Receipts stored before it are filed from their entries.
    static func registerReceiptTenants(_ m: inout DatabaseMigrator) {
        m.registerMigration("v3-receipt-tenant") { db in
            try db.execute(
                sql: """
                    ALTER TABLE receipts ADD COLUMN tenant TEXT;
                    CREATE INDEX receipts_tenant ON receipts (tenant, n);
                    """)
            var after: Int64 = 0
            while true {
                let rows = try Row.fetchAll(db, sql: "SELECT n, entry FROM receipts WHERE n > ? ORDER BY n LIMIT 10000", arguments: [after])
                guard let last = rows.last else { break }
                for row in rows {
                    let entry: Data = row[1]
                    try db.execute(sql: "UPDATE receipts SET tenant = ? WHERE n = ?", arguments: [ReceiptFiling(Array(entry)).tenant, row[0] as Int64])
                }
                after = last[0]
            }
        }
    }
}
