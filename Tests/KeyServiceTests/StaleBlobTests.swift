import CloisterClient
import CloisterTestSupport
import EnclaveRuntime
import Foundation
import SecureModule
import Testing

@testable import KeyService

/// A key blob this boot has seen, which the host serves older or calls absent, is refused `staleKeyBlob` (by the
/// vault's mark, and by the store index under it in the enclave process), never read as "no such key": a create
/// would otherwise make new material under a name in use, and a rotation would start the key again.
@Suite struct StaleBlobTests {
    typealias Enclave = ActionTests.Enclave

    @Test(arguments: [false, true]) func aBlobSeenAndNowAbsentIsStaleNotMissing(tracked: Bool) async throws {
        let e = try await Enclave(tracked: tracked)
        let acme = try CredentialKey.generate(.ed25519)
        _ = try await e.register(acme)
        _ = try await e.ok("key.create", ["name": "k", "type": "ed25519"], by: acme)
        let key = e.workload.vault.storeKey("acme", "k")
        let old = try #require(e.store.blobs.withLock { $0[key] })
        _ = try await e.ok("key.rotate", ["name": "k"], by: acme)
        let seen = try #require(e.store.blobs.withLock { $0[key] })
        e.store.blobs.withLock { _ = $0.removeValue(forKey: key) }
        #expect(try await TenantLimitsTests.status(e, "key.rotate", ["name": "k"], by: acme) == "staleKeyBlob")
        #expect(try await TenantLimitsTests.status(e, "key.create", ["name": "k", "type": "ed25519"], by: acme) == "staleKeyBlob")
        #expect(e.store.blobs.withLock { $0[key] } == nil, "nothing was written under the name")
        // An older version is stale too; the current one, put back, is read again.
        e.store.blobs.withLock { $0[key] = old }
        #expect(try await TenantLimitsTests.status(e, "key.rotate", ["name": "k"], by: acme) == "staleKeyBlob")
        e.store.blobs.withLock { $0[key] = seen }
        #expect(try await TenantLimitsTests.status(e, "key.rotate", ["name": "k"], by: acme) == "ok")
    }
}
