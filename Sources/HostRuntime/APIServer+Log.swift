import EnclaveWire
import Foundation
import GRDB
import Hummingbird
import NIOCore
import TransparencyLog

/// The deployment log's routes: its newest head, as the enclave stored it, and consistency proofs between two heads,
/// made from the leaf hashes of the stored receipts (through the roots of whole blocks, `LogNodeCache`). The host
/// can serve these; it cannot make a head, and a proof it makes up does not verify against the heads the enclave
/// signed. Only the ranges a proof needs are read: a receipt missing elsewhere below the size does not hold it up.
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
        // The proof's ranges, from the stored receipts through the kept block roots (`LogNodeCache`).
        let nodes = logNodes
        let outcome: Result<[[UInt8]], LogNodeCache.Failure>
        do {
            outcome = try await queue.database.read { db in
                var failure: LogNodeCache.Failure?
                var storage: (any Error)?
                do {
                    let proof = try ConsistencyProof.make(oldSize: UInt64(from), newSize: UInt64(to)) { (start, count) throws(TransparencyLogError) -> [UInt8] in
                        do { return try nodes.root(db, start: start, count: count) } catch {
                            if let f = error as? LogNodeCache.Failure { failure = f } else { storage = error }
                            throw TransparencyLogError(.indexOutOfRange, "the stored receipts do not give this range")
                        }
                    }
                    return .success(proof)
                } catch {
                    if let storage { throw storage }
                    if let failure { return .failure(failure) }
                    throw error
                }
            }
        } catch let error as TransparencyLogError {
            throw APIError(400, "badQuery", "\(error)")
        } catch { throw APIError.storage(error) }
        let proof: [[UInt8]]
        switch outcome {
        case .success(let p): proof = p
        case .failure(.missing(let index)):
            throw APIError(503, "logIncomplete", "the receipt at log index \(index) of the \(to) is not stored yet")
        case .failure(.conflict(let index)):
            throw APIError(409, "logConflict", "two receipts are stored at log index \(index)")
        }
        let items = proof.map { "\"\(Data($0).base64EncodedString())\"" }.joined(separator: ",")
        return Self.json(200, "{\"from\":\(from),\"to\":\(to),\"proof\":[\(items)]}")
    }
}
