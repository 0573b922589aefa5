import CloisterTestSupport
import NitroAttestation
import SecureModule
import Testing

@testable import EnclaveRuntime

/// The store index is bounded by bytes and never evicts: every entry is what detects a rollback of its record. At
/// its bound a new record is refused by name, while known records still change and an old copy is still refused
/// (docs/threat-model.md, "Memory").
@Suite struct TrackedStoreBoundTests {
    static func code(_ body: () async throws -> Void) async -> String? {
        do { try await body() } catch let e as DeploymentLogError { return e.code.rawValue } catch { return "\(error)" }
        return nil
    }

    @Test func atItsBoundTheIndexRefusesNewRecordsByNameAndStillDetectsRollbacks() async throws {
        let master = try MasterSecret(Random.bytes(32))
        let store = MemoryStore()
        let bound = 40 * TrackedStore.indexBytes("keys/acme/00")
        let tracked = TrackedStore(inner: store, master: master, maxIndexBytes: bound)
        try await tracked.load(headSize: 0, root: nil)
        var written = 0
        var refusal: String?
        for i in 0..<1000 {
            let key = "keys/acme/" + String(i).leftPadded(2)
            refusal = await Self.code { _ = try await tracked.put(key, value: Array("v1 \(i)".utf8), expectedVersion: 0) }
            #expect(tracked.indexBytes <= bound)
            if refusal != nil { break }
            written += 1
        }
        #expect(refusal == "storeIndexFull")
        #expect(written >= 39 && written <= 40)
        #expect(tracked.count == written)
        // The refused record was not written; a known record still changes.
        #expect(store.blobs.withLock { $0["keys/acme/" + String(written).leftPadded(2)] } == nil)
        let old = try #require(store.blobs.withLock { $0["keys/acme/00"] })
        #expect(try await tracked.put("keys/acme/00", value: Array("v2".utf8), expectedVersion: 1).stored)
        #expect(tracked.indexBytes <= bound)
        // The host serving the old copy back is still caught: the full index lost no entry.
        store.blobs.withLock { $0["keys/acme/00"] = old }
        #expect(await Self.code { _ = try await tracked.get("keys/acme/00") } == "storeRolledBack")
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
