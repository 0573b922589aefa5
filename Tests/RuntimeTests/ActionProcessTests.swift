import CloisterClient
import EnclaveWire
import Foundation
import NitroAttestation
import SecureModule
import Testing

@testable import KeyService

/// Actions through real host and enclave processes, the test playing the host: it mints tokens, makes a tenant
/// again under its own credential, replays actions across a restart, and reads everything it keeps.
@Suite(.serialized) struct ActionProcessTests {
    typealias K = KeyServiceTests

    /// The host wipes tenant `acme` from its store and makes it again under a credential of its own (as an operator
    /// with a new data directory for the tenant would). The enclave refuses the store at boot while the log head that
    /// committed to the tenant's records is there; with the log wiped too, the tenant's client notices at its next call.
    @Test func aTenantMadeAgainByTheHostIsRefusedByItsClient() async throws {
        let f = try await K.start()
        let c = f.client()
        _ = try await K.key(c, "create", ["name": "k", "type": "ed25519"])
        let root = try #require(c.tenantRoot)
        #expect(root == SHA.sha256(f.credential.spki))

        let enclave = try await f.host.enclavePID()
        _ = try await f.host.stop(SIGTERM)
        try await HostProcess.waitGone(enclave)
        let view = try K.HostView(f)
        for key in try view.keys(prefix: "keys/acme/") { try view.delete(key) }
        let refused = try await K.start(restart: f, wait: false)
        try await DeploymentTests.expectRefused(refused, "storeRolledBack")
        try await DeploymentTests.stop(refused)
        // The whole log goes with it (its head and the receipts the host filed), as with a new data directory.
        try view.delete(LogHeadRecord.storeKey)
        try view.execute("DELETE FROM receipts")
        let g = try await K.start(restart: f)
        let operatorKey = try CredentialKey.generate(.ed25519)
        let impostor = g.client(credential: operatorKey)
        _ = try await K.register(impostor, operatorKey)
        _ = try await K.key(impostor, "create", ["name": "k", "type": "ed25519"])

        // The tenant's client, which knows the root, refuses every answer about the new tenant: reads and actions.
        let known = CloisterClient(
            baseURL: g.base, token: g.tenantToken, trust: g.trust, roots: g.roots, tenant: "acme", credential: f.credential, tenantRoot: root)
        for attempt in [("describe", ["name": "k"]), ("sign", ["name": "k", "input": K.b64("x")])] as [(String, [String: Any])] {
            do {
                _ = try await K.key(known, attempt.0, attempt.1)
                Issue.record("\(attempt.0) was accepted from a tenant made by the host")
            } catch let e as ClientError {
                #expect(e.code == .tenantChanged, "\(attempt.0): \(e)")
            }
        }
    }

    /// An action runs once: sent again with its request id, the host answers the stored result; signed for a boot
    /// that is gone (the enclave was killed), the new boot refuses it and the client signs again for the new boot.
    @Test func anActionRunsOnceAcrossRedeliveryAndRestarts() async throws {
        let f = try await K.start()
        let c = f.client()
        _ = try await K.key(c, "create", ["name": "k", "type": "aes256-gcm"])
        let identity = try await c.connect()
        let deployment = try #require(identity.deployment)

        func rotation(_ id: String, boot: [UInt8], hpke: [UInt8]) throws -> SealedCall {
            try SealedCall(
                body: Array(#"{"name":"k"}"#.utf8), tenant: "acme", operation: "key.rotate", requestID: id, deployment: deployment, boot: boot, hpke: hpke,
                expiry: UInt64(Date().timeIntervalSince1970 * 1000) + 120_000, credentials: [f.credential])
        }
        func post(_ call: SealedCall, _ id: String) async throws -> (Int, String?) {
            let (status, _, headers) = try await f.http(
                "POST", "v1/call/key.rotate", headers: ["Authorization": "Bearer " + f.tenantToken, "Cloister-Request-Id": id], body: call.body)
            return (status, headers["Cloister-Status"] as? String)
        }
        func latest() async throws -> Int { try await K.key(c, "describe", ["name": "k"])["latestVersion"] as! Int }

        // The same action twice: executed once, the second answered with the first's result.
        let once = try rotation("rotate-once", boot: identity.boot, hpke: identity.claims.hpkePublicKey)
        #expect(try await post(once, "rotate-once").1 == "ok")
        #expect(try await post(once, "rotate-once").1 == "ok")
        #expect(try await latest() == 2)

        // Signed for this boot, delivered after the enclave was killed: the new boot refuses it.
        let stale = try rotation("rotate-stale", boot: identity.boot, hpke: identity.claims.hpkePublicKey)
        let pid = try #require(try await f.host.enclavePID())
        kill(pid, SIGKILL)
        try await f.host.waitHealthy(within: 30, notPID: pid)
        try await APIFixture.waitForQueue(f.base, host: f.host)
        #expect(try await post(stale, "rotate-stale").1 == "otherBoot")
        #expect(try await latest() == 2)
        // The library attests the new boot and signs again by itself; the rotation runs once.
        let after = CloisterClient(
            baseURL: f.base, token: f.tenantToken, trust: f.trust, roots: f.roots, tenant: "acme", credential: f.credential, tenantRoot: c.tenantRoot)
        try after.adopt(identity)
        _ = try await after.act("key.rotate", body: Array(#"{"name":"k"}"#.utf8))
        #expect(try await latest() == 3)
    }

    /// What the host keeps (database, WAL, its log) holds no plaintext of a run's inputs or results, and nothing
    /// in it tells which of 10,000 four-digit values a decrypt returned.
    @Test func theHostKeepsNoPlaintextAndCannotTellAFourDigitResult() async throws {
        let f = try await K.start()
        let c = f.client()
        _ = try await K.key(c, "create", ["name": "box", "type": "aes256-gcm"])
        _ = try await K.key(c, "create", ["name": "signer", "type": "ed25519"])
        let secretInput = "wire 40,000 to account " + Random.base64url(12)
        let message = "approve batch " + Random.base64url(12)
        let pin = String(format: "%04d", Int.random(in: 0..<10_000))
        let encrypted = try await K.key(c, "encrypt", ["name": "box", "plaintext": K.b64(secretInput)])
        let pinCiphertext = try await K.key(c, "encrypt", ["name": "box", "plaintext": K.b64(pin)])
        let decrypted = try await K.key(c, "decrypt", ["name": "box", "ciphertext": pinCiphertext["ciphertext"]!])
        #expect(decrypted["plaintext"] as? String == K.b64(pin))
        let signed = try await K.key(c, "sign", ["name": "signer", "input": K.b64(message)])
        let opened = try await K.key(c, "decrypt", ["name": "box", "ciphertext": encrypted["ciphertext"]!])
        #expect(opened["plaintext"] as? String == K.b64(secretInput))

        let data = f.host.directory.appendingPathComponent("data")
        var kept: [UInt8] = []
        for name in ["cloister.sqlite", "cloister.sqlite-wal", "cloister.sqlite-shm"] {
            kept += (try? [UInt8](Data(contentsOf: data.appendingPathComponent(name)))) ?? []
        }
        kept += (try? [UInt8](Data(contentsOf: f.host.logURL))) ?? []
        let secrets = [secretInput, K.b64(secretInput), message, K.b64(message), signed["signature"] as! String, encrypted["ciphertext"] as! String]
        for s in secrets {
            #expect(!K.contains(kept, Array(s.utf8)), "the host keeps \(s.prefix(24))…")
        }

        // Every four-digit value, in every form the answer could take, against every byte and every 32-byte window
        // (where a hash could be kept) of what the host keeps.
        // (The bare four digits are too short to search for; their base64, which every longer form contains, is not.)
        var windows = Set<UInt64>()
        if kept.count >= 8 { for i in 0...(kept.count - 8) { windows.insert(Self.prefix(kept, i)) } }
        var digests: [UInt64: [(String, [UInt8])]] = [:]
        var matches: [String] = []
        for n in 0..<10_000 {
            let candidate = String(format: "%04d", n)
            let forms = [candidate, K.b64(candidate), #"{"plaintext":""# + K.b64(candidate) + #""}"#]
            if windows.contains(Self.prefix(Array(K.b64(candidate).utf8), 0)) { matches.append(K.b64(candidate)) }
            for form in forms {
                let digest = SHA.sha256(Array(form.utf8))
                digests[Self.prefix(digest, 0), default: []].append((form, digest))
            }
        }
        if kept.count >= 32 {
            for i in 0...(kept.count - 32) {
                guard let candidates = digests[Self.prefix(kept, i)] else { continue }
                for (form, digest) in candidates where Array(kept[i..<i + 32]) == digest { matches.append("sha256(\(form))") }
            }
        }
        #expect(matches.isEmpty, "the host's files betray the result: \(matches.prefix(5))")
    }

    /// The 8 bytes of `bytes` at `i` as a number (a cheap first look before comparing 32 bytes).
    static func prefix(_ bytes: [UInt8], _ i: Int) -> UInt64 {
        var v: UInt64 = 0
        for j in 0..<8 { v = v << 8 | UInt64(bytes[i + j]) }
        return v
    }
}
