import CloisterClient
import EnclaveRuntime
import Foundation
import SecureModule
import Testing

@testable import KeyService

/// One tenant's growth stops at its own limits, by name, and never reaches another tenant (docs/keys.md, "Limits").
/// Without the limits, a tenant's key index or a key's versions grow until a sealed record no longer fits a store
/// blob, and the store channel that every tenant shares is closed by the host.
@Suite struct TenantLimitsTests {
    typealias Enclave = ActionTests.Enclave

    static func status(_ e: Enclave, _ op: String, _ body: [String: Any], tenant: String = "acme", by key: CredentialKey) async throws -> String {
        do {
            _ = try await e.ok(op, body, tenant: tenant, by: key)
            return "ok"
        } catch let refused as ActionTests.Refused {
            return refused.status
        }
    }

    @Test func keysPerTenantAndVersionsPerKeyAreBoundedByName() async throws {
        var limits = KeyVault.Limits()
        limits.keysPerTenant = 3
        limits.versionsPerKey = 2
        let e = try await Enclave(limits: limits)
        let acme = try CredentialKey.generate(.ed25519)
        let other = try CredentialKey.generate(.ed25519)
        _ = try await e.register(acme)
        _ = try await e.register(other, tenant: "other")
        for name in ["a", "b", "c"] { #expect(try await Self.status(e, "key.create", ["name": name, "type": "ed25519"], by: acme) == "ok") }
        #expect(try await Self.status(e, "key.create", ["name": "d", "type": "ed25519"], by: acme) == "tooManyKeys")
        // Another tenant is not affected, and a deletion makes room.
        #expect(try await Self.status(e, "key.create", ["name": "d", "type": "ed25519"], tenant: "other", by: other) == "ok")
        #expect(try await Self.status(e, "key.rotate", ["name": "a"], by: acme) == "ok")
        #expect(try await Self.status(e, "key.rotate", ["name": "a"], by: acme) == "tooManyVersions")
        #expect(try await Self.status(e, "key.rotate", ["name": "b"], by: acme) == "ok")
        #expect(try await Self.status(e, "key.configure", ["name": "c", "deletionAllowed": true], by: acme) == "ok")
        #expect(try await Self.status(e, "key.delete", ["name": "c"], by: acme) == "ok")
        #expect(try await Self.status(e, "key.create", ["name": "e", "type": "ed25519"], by: acme) == "ok")
        // What was made before the refusals still works.
        #expect(try await Self.status(e, "key.sign", ["name": "a", "input": Data("x".utf8).base64EncodedString()], by: acme) == "ok")
    }

    @Test func aRecordAboveTheLimitIsRefusedBeforeTheStoreSeesIt() async throws {
        var limits = KeyVault.Limits()
        limits.recordBytes = 400
        let e = try await Enclave(limits: limits)
        let acme = try CredentialKey.generate(.ed25519)
        _ = try await e.register(acme)
        let writes = e.store.blobs.withLock { $0.count }
        // The key index of long names passes 400 bytes after a few keys.
        var statuses: [String] = []
        for i in 0..<12 {
            statuses.append(try await Self.status(e, "key.create", ["name": "key-with-a-long-name-\(String(repeating: "x", count: 30))-\(i)", "type": "ed25519"], by: acme))
        }
        #expect(statuses.contains("recordTooLarge"), "\(statuses)")
        #expect(Set(statuses).isSubset(of: ["ok", "recordTooLarge"]), "\(statuses)")
        // Nothing larger than the limit reached the store.
        let largest = e.store.blobs.withLock { $0.values.map(\.value.count).max() ?? 0 }
        #expect(largest <= 400 + 12 + 16 + 100, "a blob of \(largest) bytes was stored")
        #expect(e.store.blobs.withLock { $0.count } > writes)
    }
}
