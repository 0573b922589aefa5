import CloisterClient
import EnclaveRuntime
import Foundation
import SecureModule
import Testing

@testable import KeyService

/// Every cache and mark of the key service is bounded by bytes (docs/threat-model.md, "Memory"): driven past its
/// bound with small configured bounds, each reports at most its bound, and what it forgot is read again from the
/// store and checked again; what a guarantee needs (the store index, the action ledger) refuses by name instead.
@Suite struct MemoryBoundsTests {
    typealias Enclave = ActionTests.Enclave

    static func status(_ e: Enclave, _ op: String, _ body: [String: Any], tenant: String = "acme", by key: CredentialKey) async throws -> String {
        try await TenantLimitsTests.status(e, op, body, tenant: tenant, by: key)
    }

    static func small() -> EnclaveMemory {
        var m = EnclaveMemory()
        m.keyCacheBytes = 16 * 1024
        m.parsedKeyBytes = 16 * 1024
        m.rollbackMarkBytes = 4096
        m.tenantKeyBytes = 4096
        m.credentialCacheBytes = 4096
        return m
    }

    static func within(_ f: KeyVault.Footprint, _ m: EnclaveMemory) -> Bool {
        f.records <= m.keyCacheBytes && f.parsedKeys <= m.parsedKeyBytes && f.rollbackMarks <= m.rollbackMarkBytes && f.tenantKeys <= m.tenantKeyBytes
            && f.credentials <= m.credentialCacheBytes
    }

    @Test func theKeyCachesStayWithinTheirBoundsAndWhatTheyForgetIsReadAndCheckedAgain() async throws {
        let memory = Self.small()
        let e = try await Enclave(memory: memory, tracked: true)
        let vault = e.workload.vault
        let acme = try CredentialKey.generate(.ed25519)
        _ = try await e.register(acme)
        // Other tenants' credential sets and keys pass through the same caches.
        for t in 0..<12 {
            let key = try CredentialKey.generate(.ed25519)
            _ = try await e.register(key, tenant: "tenant-\(t)")
            #expect(Self.within(vault.footprint, memory))
        }
        for i in 0..<80 {
            _ = try await e.ok("key.create", ["name": "k\(i)", "type": i % 2 == 0 ? "ecdsa-p384" : "ed25519"], by: acme)
            #expect(Self.within(vault.footprint, memory))
        }
        #expect(vault.footprint.recordEvictions > 0)
        #expect(vault.footprint.records > memory.keyCacheBytes / 2)

        // k0 was evicted long ago: it is read from the store again, and it still signs with the same key.
        let input = Data("hello".utf8).base64EncodedString()
        let signed = try await e.ok("key.sign", ["name": "k0", "input": input], by: acme)
        let verified = try await e.ok("key.verify", ["name": "k0", "input": input, "signature": signed["signature"] as! String], by: acme)
        #expect(verified["valid"] as? Bool == true)

        // The host serves an old copy of a key whose cached record and rollback mark are gone: still refused.
        let storeKey = vault.storeKey("acme", "k1")
        let old = try #require(e.store.blobs.withLock { $0[storeKey] })
        #expect(try await Self.status(e, "key.rotate", ["name": "k1"], by: acme) == "ok")
        for i in 80..<160 { _ = try await e.ok("key.create", ["name": "k\(i)", "type": "ed25519"], by: acme) }
        #expect(Self.within(vault.footprint, memory))
        e.store.blobs.withLock { $0[storeKey] = old }
        let rolledBack = try await Self.status(e, "key.sign", ["name": "k1", "input": input], by: acme)
        #expect(rolledBack == "staleKeyBlob")
    }

    @Test func aFullActionLedgerRefusesNewActionsByNameAndStillRefusesReplays() async throws {
        var memory = EnclaveMemory()
        memory.actionLedgerBytes = 8 * 1024
        let e = try await Enclave(memory: memory)
        let capacity = e.workload.ledger.capacity
        let acme = try CredentialKey.generate(.ed25519)
        _ = try await e.register(acme)
        _ = try await e.ok("key.create", ["name": "k", "type": "ed25519"], by: acme)
        let input = Data("x".utf8).base64EncodedString()
        let (first, _) = try e.call("key.sign", ["name": "k", "input": input], by: acme)
        #expect(await e.run(first).status == "ok")
        var ran = 3
        var refused: String?
        while refused == nil && ran <= capacity + 1 {
            let status = try await Self.status(e, "key.sign", ["name": "k", "input": input], by: acme)
            if status == "ok" { ran += 1 } else { refused = status }
            #expect(e.workload.ledger.bytes <= memory.actionLedgerBytes)
        }
        #expect(refused == "busy")
        #expect(ran == capacity)
        // Full, the ledger still knows every unexpired action: a redelivery is a replay, not a second run.
        #expect(await e.run(first).status == "actionReplayed")
        // Once the actions expired, there is room again.
        e.clock.now += 61_000
        #expect(try await Self.status(e, "key.sign", ["name": "k", "input": input], by: acme) == "ok")
    }

    @Test func aFullStoreIndexRefusesNewRecordsByNameAndNothingElse() async throws {
        var memory = EnclaveMemory()
        memory.storeIndexBytes = 4096
        let e = try await Enclave(memory: memory, tracked: true)
        let index = try #require(e.tracked)
        let acme = try CredentialKey.generate(.ed25519)
        let other = try CredentialKey.generate(.ed25519)
        _ = try await e.register(other, tenant: "other")
        _ = try await e.ok("key.create", ["name": "kept", "type": "ed25519"], tenant: "other", by: other)
        _ = try await e.register(acme)
        var created = 0
        var refusal = "ok"
        while refusal == "ok" && created < 100 {
            refusal = try await Self.status(e, "key.create", ["name": "k\(created)", "type": "ed25519"], by: acme)
            if refusal == "ok" { created += 1 }
            #expect(index.indexBytes <= memory.storeIndexBytes)
        }
        #expect(refusal == "storeIndexFull")
        #expect(created > 5)
        // Known records still change, other tenants' keys still work, and the refused key does not exist.
        #expect(try await Self.status(e, "key.rotate", ["name": "k0"], by: acme) == "ok")
        #expect(try await Self.status(e, "key.sign", ["name": "kept", "input": "aGk="], tenant: "other", by: other) == "ok")
        #expect(try await Self.status(e, "key.sign", ["name": "k\(created)", "input": "aGk="], by: acme) == "keyNotFound")
        #expect(index.indexBytes <= memory.storeIndexBytes)
    }
}
