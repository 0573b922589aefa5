import Foundation
import GRDB
import Hummingbird
import NitroAttestation

/// The receipt listings: by the host's number (`GET /v1/receipts`) and by deployment log index
/// (`GET /v1/log/receipts`). Auditors and the admin read every receipt; a tenant reads the receipts that name it,
/// each as the enclave signed it (with its log index, head and inclusion proof), and never another tenant's.
extension APIServer {
    /// Which receipts a caller may list.
    enum ReceiptScope: Sendable, Hashable {
        case all
        case tenant(String)

        /// The SQL condition (after `AND`) and its arguments.
        var condition: (sql: String, arguments: StatementArguments) {
            switch self {
            case .all: return ("", [])
            case .tenant(let name): return (" AND tenant = ?", [name])
            }
        }
    }

    func receiptScope(_ request: Request) throws -> ReceiptScope {
        switch auth.principal(authorization: request.headers[.authorization]) {
        case .auditor?, .admin?: return .all
        case .tenant(_, let name)?: return .tenant(name)
        case nil: throw APIError.unauthorized()
        }
    }

    /// `GET /v1/receipts?after=N&limit=M`: receipts after the host's number N, in the host's order, as
    /// `{"receipts": [{"n", ?"index", "boot", "seq", "entry"}], "next": N}`.
    func receipts(_ request: Request) async throws -> Response {
        let scope = try receiptScope(request)
        let after = try Self.integer(request, "after", default: 0, range: 0...Int64.max)
        let limit = try Self.integer(request, "limit", default: 100, range: 1...1000)
        let (condition, arguments) = scope.condition
        let rows = try await readReceipts(
            "SELECT n, boot, seq, entry, log_index FROM receipts WHERE n > ?\(condition) ORDER BY n LIMIT ?", [after] + arguments + [limit])
        let next = rows.last.map { $0[0] as Int64 } ?? after
        return Self.json(200, "{\"receipts\":[" + rows.map(Self.receiptItem).joined(separator: ",") + "],\"next\":\(next)}")
    }

    /// `GET /v1/log/receipts?from=I&limit=M`: receipts of the deployment log from index I, in index order (two rows
    /// at one index both listed, and never split across pages), as `{"receipts": [...], "next": I}` with the items
    /// of `GET /v1/receipts`; `next` is the index after the page's last.
    func logReceipts(_ request: Request) async throws -> Response {
        let scope = try receiptScope(request)
        let from = try Self.integer(request, "from", default: 0, range: 0...Int64.max)
        let limit = try Self.integer(request, "limit", default: 100, range: 1...1000)
        let (condition, arguments) = scope.condition
        let columns = "SELECT n, boot, seq, entry, log_index FROM receipts"
        var rows = try await readReceipts(
            "\(columns) WHERE log_index >= ?\(condition) ORDER BY log_index, n LIMIT ?", [from] + arguments + [limit])
        if rows.count == limit, let last = rows.last {
            rows += try await readReceipts(
                "\(columns) WHERE log_index = ? AND n > ?\(condition) ORDER BY n", [last[4] as Int64, last[0] as Int64] + arguments)
        }
        let next = rows.last.map { ($0[4] as Int64) + 1 } ?? from
        return Self.json(200, "{\"receipts\":[" + rows.map(Self.receiptItem).joined(separator: ",") + "],\"next\":\(next)}")
    }

    private func readReceipts(_ sql: String, _ arguments: StatementArguments) async throws -> [Row] {
        do { return try await queue.database.rows(sql, arguments) } catch {
            throw APIError.storage(error)
        }
    }

    /// One listed receipt from a row of `n, boot, seq, entry, log_index`.
    static func receiptItem(_ r: Row) -> String {
        let index = (r[4] as Int64?).map { ",\"index\":\($0)" } ?? ""
        return "{\"n\":\(r[0] as Int64)\(index),\"boot\":\"\(Hex.encode((r[1] as Data).bytes))\",\"seq\":\(r[2] as Int64),\"entry\":\"\((r[3] as Data).base64EncodedString())\"}"
    }
}
