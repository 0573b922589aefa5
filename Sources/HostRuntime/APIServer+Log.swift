import EnclaveWire
import Foundation
import GRDB
import Hummingbird
import NIOCore
import TransparencyLog

/// The deployment log's routes: its newest head, as the enclave stored it, and consistency proofs between two heads,
/// made from the leaf hashes of the stored receipts. The host can serve these; it cannot make a head, and a proof
/// it makes up does not verify against the heads the enclave signed.
extension APIServer {
    /// `GET /v1/log/head`: the newest signed checkpoint (a C2SP note, as text), for any valid token.
    func logHead(_ request: Request) async throws -> Response {
        guard auth.principal(authorization: request.headers[.authorization]) != nil else { throw APIError.unauthorized() }
        let record = try await storedLogHead()
        return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: record.checkpoint)))
    }

    /// The enclave's stored log head record; 404 `noLogHead` before the first.
    func storedLogHead() async throws -> LogHeadRecord {
        guard let stored = try await blob(LogHeadRecord.storeKey) else { throw APIError(404, "noLogHead", "the enclave has not logged a receipt yet") }
        guard let record = try? LogHeadRecord(encoded: Array(stored)) else {
            throw APIError(500, "logHeadUnreadable", "the stored log head is not a log head record")
        }
        return record
    }

    /// The value the store holds under `key` (nil: none).
    func blob(_ key: String) async throws -> Data? {
        do { return try await queue.database.read { db in try Data.fetchOne(db, sql: "SELECT value FROM blobs WHERE key = ?", arguments: [key]) } } catch {
            throw APIError.storage(error)
        }
    }

    /// `GET /v1/log/consistency?from=A&to=B`: the RFC 9162 proof that the log of A leaves is a prefix of the log of
    /// B (1 ≤ A ≤ B), as JSON `{"from": A, "to": B, "proof": [BASE64, ...]}`, for any valid token. 503
    /// `logIncomplete` while the receipts 0 ..< B are not all stored (a batch still on its way); 404 `beyondLogHead`
    /// when B is above the stored head's size.
    func logConsistency(_ request: Request) async throws -> Response {
        guard auth.principal(authorization: request.headers[.authorization]) != nil else { throw APIError.unauthorized() }
        let from = try Self.integer(request, "from", range: 1...Int64.max)
        let to = try Self.integer(request, "to", range: 1...Int64.max)
        guard from <= to else { throw APIError(400, "badQuery", "from must not be above to") }
        // A size the stored head has not reached is not a size of this log (the client saw it elsewhere: a fork, or
        // a store rolled back); waiting would not help.
        let size = try await storedLogHead().size
        guard UInt64(to) <= size else { throw APIError(404, "beyondLogHead", "the log has \(size) receipts, not \(to)") }
        let rows: [Row]
        do {
            rows = try await queue.database.rows("SELECT log_index, leaf FROM receipts WHERE log_index IS NOT NULL AND log_index < ? ORDER BY log_index", [to])
        } catch { throw APIError.storage(error) }
        var leaves: [[UInt8]] = []
        leaves.reserveCapacity(rows.count)
        for row in rows {
            let index: Int64 = row[0]
            let leaf: Data = row[1]
            // The same receipt stored twice (a batch sent again) is one leaf; two different leaves at one index is
            // something the enclave never signs.
            if index < Int64(leaves.count) {
                guard leaves[Int(index)] == Array(leaf) else { throw APIError(409, "logConflict", "two receipts are stored at log index \(index)") }
                continue
            }
            guard index == Int64(leaves.count) else { break }
            leaves.append(Array(leaf))
        }
        guard Int64(leaves.count) == to else {
            throw APIError(503, "logIncomplete", "\(leaves.count) of the \(to) receipts are stored so far")
        }
        let proof: [[UInt8]]
        do { proof = try ConsistencyProof.make(oldSize: UInt64(from), newSize: UInt64(to), leafHashes: leaves) } catch {
            throw APIError(400, "badQuery", "\(error)")
        }
        let items = proof.map { "\"\(Data($0).base64EncodedString())\"" }.joined(separator: ",")
        return Self.json(200, "{\"from\":\(from),\"to\":\(to),\"proof\":[\(items)]}")
    }
}
