import Foundation
import NitroAttestation
import TransparencyLog

extension CloisterClient {
    /// Most entries read from `GET /v1/log/witnesses` (a manifest pins at most 16 witnesses).
    static let maxWitnessEntries = 64

    /// The cosigned heads the host keeps (`GET /v1/log/witnesses`), by witness name, unverified.
    public func witnessNotes() async throws(ClientError) -> [(name: String, note: [UInt8])] {
        let (status, body, _) = try await send("GET", "v1/log/witnesses")
        guard status == 200 else { throw Self.httpError(status, body) }
        guard body.count <= Self.maxWitnessEntries * (SignedNote.maxBytes + 1024), let top = (try? JSONValue.parse(body))?.object,
            let items = top["witnesses"]?.items, items.count <= Self.maxWitnessEntries
        else { throw ClientError(.malformedResponse, "the witnesses are not {\"witnesses\": [...]} of at most \(Self.maxWitnessEntries)") }
        var notes: [(name: String, note: [UInt8])] = []
        for item in items {
            guard let o = item.object, let name = o["name"]?.string, let note = o["note"]?.string, note.utf8.count <= SignedNote.maxBytes else {
                throw ClientError(.malformedResponse, "a witness entry is not {\"name\": TEXT, \"note\": TEXT}")
            }
            notes.append((name, Array(note.utf8)))
        }
        return notes
    }

    /// Hands the host a head a witness cosigned (`POST /v1/log/witness`), for it to keep where the enclave and
    /// clients read it.
    public func submitWitnessed(_ note: [UInt8]) async throws(ClientError) {
        let (status, body, _) = try await send("POST", "v1/log/witness", body: note)
        guard status == 200 else { throw Self.httpError(status, body) }
    }

    /// Checks that at least `witnessQuorum` of the pinned `witnesses` cosigned a head consistent with this client's
    /// newest one (the host's newest head when the client has none yet). Each pinned witness's note from the host
    /// must carry the deployment's signature and that witness's cosignature (else it is not counted); a larger head
    /// becomes the client's newest once the host's consistency proof verifies, a smaller one must be a prefix of it
    /// by a proof too, one of equal size must have the same root. Any inconsistency is `logForked`, with its
    /// evidence; too few witnesses, `witnessQuorumMissing`.
    public func checkWitnesses() async throws(ClientError) -> WitnessReport {
        if deployment == nil { try await connect() }
        guard let deployment else { throw ClientError(.logProofInvalid, "the enclave names no deployment, so it has no log to witness") }
        if logHead == nil { try await updateLogHead() }
        let notes = try await witnessNotes()
        var witnessed: [WitnessedHead] = []
        var missing: [(name: String, reason: String)] = []
        for witness in witnesses {
            let candidates = notes.filter { $0.name == witness.name }
            guard !candidates.isEmpty else {
                missing.append((witness.name, "the host keeps no head it cosigned"))
                continue
            }
            var verified: WitnessedHead?
            var reason = ""
            for candidate in candidates {
                do { verified = try WitnessedHead.verify(candidate.note, deployment: deployment, witness: witness) } catch { reason = error.message }
                if verified != nil { break }
            }
            guard let verified else {
                missing.append((witness.name, reason))
                continue
            }
            // A larger head after a proof, a smaller one as a proven prefix, an equal one with the same root.
            try await adopt(verified.head, deployment: deployment)
            witnessed.append(verified)
        }
        guard let head = logHead else { throw ClientError(.logProofInvalid, "no log head") }
        guard witnessed.count >= witnessQuorum else {
            let why = missing.map { "\($0.name): \($0.reason)" }.joined(separator: "; ")
            throw ClientError(
                .witnessQuorumMissing, "\(witnessed.count) of the \(witnessQuorum) witness cosignatures required\(why.isEmpty ? "" : " (\(why))")")
        }
        return WitnessReport(head: head, witnessed: witnessed, missing: missing)
    }
}
