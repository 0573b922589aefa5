import CloisterClient
import EnclaveWire
import Foundation
import NitroAttestation
import SecureModule
import Testing
import TransparencyLog

@testable import EnclaveRuntime

/// A host that restarts the enclave on an old copy of its store (docs/log.md, "Rollback"): of one record, and of the
/// whole store with a witness that saw a newer head. Who detects: the enclave, at boot, before it serves anything.
extension DeploymentTests {
    /// The host's current log head, as a signed note.
    static func storedHead(_ f: APIFixture) throws -> [UInt8] {
        let (_, bytes) = try #require(try K.HostView(f).blob(LogHeadRecord.storeKey))
        return try LogHeadRecord(encoded: bytes).checkpoint
    }

    /// `head` cosigned by `witness` at `time`, as the witness posts it and the host keeps it.
    static func cosigned(_ head: [UInt8], by witness: NoteSigner, at time: UInt64) throws -> [UInt8] {
        let note = try SignedNote(parsing: head)
        return try SignedNote(text: note.text, signatures: note.signatures + [try witness.sign(text: note.text, timestamp: time)]).encoded
    }

    static var now: UInt64 { UInt64(Date().timeIntervalSince1970) }

    @Test func aRecordTheHostRollsBackIsRefusedAtBoot() async throws {
        let f = try await K.start()
        let c = f.client()
        _ = try await K.key(c, "create", ["name": "rolled", "type": "aes256-gcm"])
        let view = try K.HostView(f)
        let before = try view.keys(prefix: "keys/acme/").map { ($0, try #require(try view.blob($0))) }
        _ = try await K.key(c, "rotate", ["name": "rolled"])
        try await Self.stop(f)
        f.host.keepDirectory = true

        // The host serves the key's record as it was before the rotation (a valid record, once current).
        let (key, old) = try #require(try before.first { try view.blob($0.0)?.0 != $0.1.0 })
        let current = try #require(try view.blob(key))
        try view.put(key, version: old.0, value: old.1)
        try await Self.expectRefused(try await K.start(restart: f, wait: false), "storeRolledBack")

        // The record as it is: the same deployment serves again, with the rotated key.
        try view.put(key, version: current.0, value: current.1)
        let g = try await K.start(restart: f)
        let encrypted = try await K.key(g.client(), "encrypt", ["name": "rolled", "plaintext": K.b64("x")])
        #expect(encrypted["version"] as? Int == 2)
    }

    @Test func aWholeStoreRestoredFromAnOldCopyIsRefusedOnceAWitnessSawANewerHead() async throws {
        let witness = try NoteSigner(name: "witness.test/one", type: .cosignatureV1, key: try Ed25519Key(seed: Random.bytes(32)))
        let log: [String: Any] = ["witnesses": [witness.verifierKey.encoded], "quorum": 1, "freshSeconds": 30]
        // The empty log needs no cosignature.
        let f = try await K.start(log: log)
        _ = try await K.key(f.client(), "create", ["name": "kept", "type": "ed25519"])
        try await Self.stop(f)
        f.host.keepDirectory = true
        let data = f.host.directory.appendingPathComponent("data")
        let copy = f.host.directory.appendingPathComponent("data-copy")
        try FileManager.default.copyItem(at: data, to: copy)

        // Without a cosignature of its head, the next boot waits and serves nothing.
        let waiting = try await K.start(restart: f, wait: false, log: log)
        try await waiting.host.waitForLog("waiting for the witnesses")
        #expect(try await waiting.http("GET", "v1/attestation?nonce=00").0 == 503)
        try await Self.stop(waiting)
        // The witness cosigns it: the boot goes on.
        try K.HostView(f).store("witness/witness.test/one", value: try Self.cosigned(try Self.storedHead(f), by: witness, at: Self.now))
        let g = try await K.start(restart: f, log: log)
        _ = try await K.key(g.client(), "create", ["name": "later", "type": "ed25519"])
        try await Self.stop(g)
        let newer = try Self.cosigned(try Self.storedHead(f), by: witness, at: Self.now)

        // The host puts back its old copy of everything, and the witness's cosignature of the newer head arrives.
        try FileManager.default.removeItem(at: data)
        try FileManager.default.moveItem(at: copy, to: data)
        try K.HostView(f).store("witness/witness.test/one", value: newer)
        try await Self.expectRefused(try await K.start(restart: f, wait: false, log: log), "storeRolledBack")

        // The witness's old cosignature of the old head, served again instead: too old to count, so nothing is served.
        try K.HostView(f).store("witness/witness.test/one", value: try Self.cosigned(try Self.storedHead(f), by: witness, at: Self.now - 120))
        let replayed = try await K.start(restart: f, wait: false, log: log)
        try await replayed.host.waitForLog("waiting for the witnesses")
        #expect(try await replayed.http("GET", "v1/attestation?nonce=00").0 == 503)
        try await Self.stop(replayed)
    }

    /// Who: the client, at its first answer from the restarted enclave. Without a witness quorum the enclave cannot
    /// tell an old copy of its whole store (it warns at boot); a client that saw a newer head can: the head it is
    /// shown is not a prefix of the one it saw.
    @Test func aClientThatSawANewerHeadRefusesAnEnclaveOnAnOldCopyOfItsStore() async throws {
        let f = try await K.start()
        let c = f.client()
        _ = try await K.key(c, "create", ["name": "first", "type": "ed25519"])
        try await Self.stop(f)
        f.host.keepDirectory = true
        let data = f.host.directory.appendingPathComponent("data")
        let copy = f.host.directory.appendingPathComponent("data-copy")
        try FileManager.default.copyItem(at: data, to: copy)
        let g = try await K.start(restart: f)
        for name in ["second", "third", "fourth"] { _ = try await K.key(c, "create", ["name": name, "type": "ed25519"]) }
        let seen = try #require(c.logHead).checkpoint.size
        try await Self.stop(g)

        try FileManager.default.removeItem(at: data)
        try FileManager.default.moveItem(at: copy, to: data)
        let h = try await K.start(restart: f)
        try await h.host.waitForLog("no witness quorum")
        #expect(await K.refusal(c, "describe", ["name": "first"]) == "client:logForked")
        #expect(try #require(c.logHead).checkpoint.size == seen, "the newest head seen stays the one before the rollback")
        // A client with no memory of the log takes the old branch as it is: what clients remember, and witnesses, are for.
        let fresh = CloisterClient(baseURL: h.base, token: h.tenantToken, trust: h.trust, roots: h.roots, tenant: "acme", credential: h.credential)
        _ = try await K.key(fresh, "describe", ["name": "first"])
    }
}
