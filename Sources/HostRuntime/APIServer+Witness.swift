import EnclaveWire
import Foundation
import GRDB
import Hummingbird
import NitroAttestation
import TransparencyLog
import VsockBridge

/// The witnesses' routes: the host keeps, for each witness the manifest pins, the newest head that witness
/// cosigned, under `witness/<name>` in the store the enclave reads (docs/log.md, "Witnesses"). The host's checks
/// keep what is not a cosigned head of this deployment out of the store; the enclave and clients check for
/// themselves.
extension APIServer {
    /// `POST /v1/log/witness` (auditor or admin): the body is a signed note, a checkpoint of this deployment's log
    /// signed by the deployment key and cosigned by at least one pinned witness. It is kept for each such witness
    /// whose kept head is not newer (a larger size, or the same size cosigned later); 200 `{"stored": [NAME, ...]}`.
    func storeWitnessed(_ request: Request) async throws -> Response {
        try requireAuditor(request, "handing in a witnessed head")
        let body = try await collect(request, limit: SignedNote.maxBytes)
        let deployment = try await deploymentCommitment()
        let origin = "cloister/" + Hex.encode(deployment).lowercased()
        let logKey = try NoteVerifierKey(name: origin, type: .ed25519, publicKey: deployment)
        let checkpoint: Checkpoint
        do { checkpoint = try Checkpoint(parsing: try SignedNote(parsing: body).text) } catch {
            throw APIError(400, "malformedNote", "not a signed checkpoint: \(error)")
        }
        guard checkpoint.origin == origin else { throw APIError(400, "wrongLog", "the checkpoint is not of this deployment's log (\(origin))") }
        do { _ = try CheckpointVerifier(origin: origin, logKey: logKey).verify(body) } catch {
            throw APIError(400, "logSignatureInvalid", "the deployment key did not sign it: \(error)")
        }
        let cosigned = witnesses.compactMap { witness in Self.witnessed(body, by: witness, origin: origin, logKey: logKey).map { (witness, $0) } }
        guard !cosigned.isEmpty else {
            throw APIError(403, "unknownWitness", "the note carries no valid cosignature from a witness the manifest pins")
        }
        var stored: [String] = []
        var refusal: APIError?
        for (witness, order) in cosigned {
            let key = DeploymentManifest.Log.storeKey(witness: witness)
            let now = Int64(WallClock.milliseconds())
            let outcome: APIError?
            do {
                outcome = try await queue.committer.run { db -> APIError? in
                    let row = try Row.fetchOne(db, sql: "SELECT version, value FROM blobs WHERE key = ?", arguments: [key])
                    if let row, let kept = Self.witnessed((row[1] as Data).bytes, by: witness, origin: origin, logKey: logKey) {
                        if let refusal = Self.refusal(kept: kept, offered: order, witness: witness.name) { return refusal }
                    }
                    let version = (row?[0] as Int64?) ?? 0
                    try db.execute(
                        sql: "INSERT INTO blobs (key, version, value, updated) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET version = excluded.version, value = excluded.value, updated = excluded.updated",
                        arguments: [key, version + 1, Data(body), now])
                    return nil
                }
            } catch { throw APIError.storage(error) }
            if let outcome { refusal = outcome } else { stored.append(witness.name) }
        }
        if stored.isEmpty, let refusal { throw refusal }
        logger.info("witnessed head stored", metadata: ["witnesses": "\(stored.joined(separator: ","))"])
        return Self.json(200, try Self.encodeJSON(["stored": stored]))
    }

    /// `GET /v1/log/witnesses` (any valid token): the kept head of each pinned witness, as JSON
    /// `{"witnesses": [{"name": NAME, "note": NOTE}, ...]}`, in the manifest's order; a witness with none is left out.
    func witnessedHeads(_ request: Request) async throws -> Response {
        guard auth.principal(authorization: request.headers[.authorization]) != nil else { throw APIError.unauthorized() }
        var entries: [WitnessEntry] = []
        for witness in witnesses {
            guard let note = try await blob(DeploymentManifest.Log.storeKey(witness: witness)) else { continue }
            entries.append(WitnessEntry(name: witness.name, note: String(decoding: note, as: UTF8.self)))
        }
        return Self.json(200, try Self.encodeJSON(["witnesses": entries]))
    }

    struct WitnessEntry: Encodable {
        let name: String
        let note: String
    }

    /// Where a cosigned head stands for one witness: its size, then its cosignature time.
    struct WitnessOrder: Equatable {
        let size: UInt64
        let root: [UInt8]
        let time: UInt64
    }

    /// The size, root and cosignature time of `note` if it is a head of the log cosigned by `witness`.
    static func witnessed(_ note: [UInt8], by witness: NoteVerifierKey, origin: String, logKey: NoteVerifierKey) -> WitnessOrder? {
        guard let verifier = try? CheckpointVerifier(origin: origin, logKey: logKey, witnesses: [witness], requiredCosignatures: 1),
            let verified = try? verifier.verify(note), let time = verified.cosignatures.first?.timestamp
        else { return nil }
        return WitnessOrder(size: verified.checkpoint.size, root: verified.checkpoint.rootHash, time: time)
    }

    /// Why `offered` may not replace `kept`: an older head or cosignature (409 `witnessBehind`), or another root at the
    /// same size (409 `witnessConflict`, which an honest witness never signs).
    static func refusal(kept: WitnessOrder, offered: WitnessOrder, witness: String) -> APIError? {
        if offered.size < kept.size || (offered.size == kept.size && offered.time < kept.time) {
            return APIError(
                409, "witnessBehind", "\(witness) cosigned a head of \(kept.size) at \(kept.time); this one is of \(offered.size) at \(offered.time)")
        }
        if offered.size == kept.size && offered.root != kept.root {
            return APIError(409, "witnessConflict", "\(witness) cosigned two different heads of \(kept.size)")
        }
        return nil
    }

    /// The deployment's commitment, from the genesis claims of the deployment record the enclave stored. The host
    /// reads them without checking the genesis document's chain: it trusts nothing here, it only keeps other logs'
    /// heads out of the store.
    func deploymentCommitment() async throws -> [UInt8] {
        guard let stored = try await blob(DeploymentRecord.storeKey) else { throw APIError(404, "noDeployment", "the enclave has not recorded a deployment yet") }
        guard let genesis = (try? DeploymentRecord(encoded: stored.bytes))?.genesis, let userData = (try? AttestationVerifier.parse(genesis))?.1.userData,
            let claims = try? GenesisClaims(encoded: userData)
        else { throw APIError(500, "deploymentUnreadable", "the stored deployment record has no readable genesis") }
        return claims.commitment
    }

    /// Refuses all but an auditor's or the admin's token (403 `forbidden` for a tenant's).
    func requireAuditor(_ request: Request, _ what: String) throws {
        switch auth.principal(authorization: request.headers[.authorization]) {
        case .auditor?, .admin?: return
        case .tenant?: throw APIError(403, "forbidden", "\(what) needs an auditor or admin token")
        case nil: throw APIError.unauthorized()
        }
    }

    /// `value` as JSON with sorted keys: the one encoder of these answers.
    static func encodeJSON(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do { return String(decoding: try encoder.encode(value), as: UTF8.self) } catch {
            throw APIError(500, "internal", "cannot encode the answer")
        }
    }
}
