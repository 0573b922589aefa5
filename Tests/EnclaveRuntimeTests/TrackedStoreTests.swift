import CloisterTestSupport
import EnclaveWire
import NitroAttestation
import SecureModule
import Testing
import TransparencyLog
import VsockBridge

@testable import EnclaveRuntime

/// The workloads' store checked against the deployment log's state root (docs/log.md, "Rollback"): the host edits
/// `MemoryStore` as it would edit its database. Who detects: the enclave, at boot (`load`) or at the read.
@Suite struct TrackedStoreTests {
    /// A deployment's master, its store, and a log whose heads commit to the tracker's state.
    struct World {
        let master: MasterSecret
        let store = MemoryStore()
        var log: DeploymentLog
        let tracked: TrackedStore

        init(master: MasterSecret? = nil) throws {
            let master = try master ?? MasterSecret(Random.bytes(32))
            self.master = master
            log = try DeploymentLog(master: master)
            tracked = TrackedStore(inner: store, master: master)
            log.state = tracked
        }

        /// One batch: the writes, then a head over `receipts` new leaves that commits to the state, stored.
        mutating func batch(_ writes: [(String, String)], receipts: Int = 1) async throws {
            for (key, value) in writes {
                let current = try await tracked.get(key)?.version ?? 0
                let put = try await tracked.put(key, value: Array(value.utf8), expectedVersion: current)
                #expect(put.stored)
            }
            let appended = try log.appending((0..<receipts).map { _ in Random.bytes(32) }, stateRoot: try await tracked.currentRoot())
            log = try await log.store(appended, in: store)
            log.state = tracked
            tracked.headStored(size: log.range.size)
        }

        /// A fresh boot on the store as it is now.
        func boot() async throws -> TrackedStore {
            let loaded = try await DeploymentLog.load(store: store, master: master)
            let t = TrackedStore(inner: store, master: master)
            try await t.load(headSize: loaded.range.size, root: loaded.stateRoot)
            return t
        }

        func text(_ t: TrackedStore, _ key: String) async throws -> String? {
            try await t.get(key).map { String(decoding: $0.value, as: UTF8.self) }
        }
    }

    static func code(_ body: () async throws -> Void) async -> String? {
        do { try await body() } catch let e as DeploymentLogError { return e.code.rawValue } catch { return "\(error)" }
        return nil
    }

    @Test func aBootReadsBackWhatTheHeadCommittedTo() async throws {
        var w = try World()
        try await w.batch([("keys/a/1", "one"), ("keys/a/2", "two")])
        try await w.batch([("keys/a/1", "one again"), ("keys/b/1", "three")], receipts: 3)
        let t = try await w.boot()
        #expect(try await w.text(t, "keys/a/1") == "one again")
        #expect(try await w.text(t, "keys/b/1") == "three")
        #expect(try await w.text(t, "keys/none") == nil)
        // The head carries the state line, and its root is the tracker's.
        let head = try #require(try await DeploymentLog.load(store: w.store, master: w.master).stateRoot)
        #expect(head == (try await t.currentRoot()))
    }

    @Test func oneRecordRolledBackIsRefusedAtBoot() async throws {
        var w = try World()
        try await w.batch([("keys/a/1", "v1")])
        let old = try #require(w.store.blobs.withLock { $0["keys/a/1"] })
        try await w.batch([("keys/a/1", "v2")])
        w.store.blobs.withLock { $0["keys/a/1"] = old }
        #expect(await Self.code { _ = try await w.boot() } == "storeRolledBack")
        // And within a boot, at the read.
        #expect(await Self.code { _ = try await w.tracked.get("keys/a/1") } == "storeRolledBack")
    }

    @Test func aRecordHiddenOrPlantedIsRefused() async throws {
        var w = try World()
        try await w.batch([("keys/a/1", "v1"), ("keys/a/2", "v1")])
        let kept = try #require(w.store.blobs.withLock { $0["keys/a/2"] })
        w.store.blobs.withLock { _ = $0.removeValue(forKey: "keys/a/2") }
        #expect(await Self.code { _ = try await w.boot() } == "storeRolledBack")
        #expect(await Self.code { _ = try await w.tracked.get("keys/a/2") } == "storeRolledBack")
        w.store.blobs.withLock { $0["keys/a/2"] = kept }
        // A record under another name (the tag names the key), and one nobody wrote.
        w.store.blobs.withLock { $0["keys/a/3"] = kept }
        #expect(await Self.code { _ = try await w.tracked.get("keys/a/3") } == "storeRecordInvalid")
        let t = try await w.boot()
        #expect(await Self.code { _ = try await t.get("keys/a/3") } == "storeRecordInvalid")
        w.store.blobs.withLock { $0["keys/a/3"] = (1, Array("planted".utf8)) }
        #expect(try await w.text(try await w.boot(), "keys/a/2") == "v1")
    }

    @Test func writesOfABatchWhoseHeadWasNeverStoredAreTakenUpAtBoot() async throws {
        var w = try World()
        try await w.batch([("keys/a/1", "v1")])
        // The enclave stops after the writes and before the head: the next boot takes them as they are.
        _ = try await w.tracked.put("keys/a/1", value: Array("v2".utf8), expectedVersion: 1)
        _ = try await w.tracked.put("keys/a/1", value: Array("v3".utf8), expectedVersion: 2)
        _ = try await w.tracked.put("keys/b/1", value: Array("new".utf8), expectedVersion: 0)
        let t = try await w.boot()
        #expect(try await w.text(t, "keys/a/1") == "v3")
        #expect(try await w.text(t, "keys/b/1") == "new")
        // Such a write rolled back to what the head knew is that head's state: the batch never answered.
        var u = try World()
        try await u.batch([("keys/a/1", "v1")])
        let old = try #require(u.store.blobs.withLock { $0["keys/a/1"] })
        _ = try await u.tracked.put("keys/a/1", value: Array("v2".utf8), expectedVersion: 1)
        u.store.blobs.withLock { $0["keys/a/1"] = old }
        #expect(try await u.text(try await u.boot(), "keys/a/1") == "v1")
    }

    @Test func aRolledBackHeadBelowItsRecordsIsRefused() async throws {
        var w = try World()
        try await w.batch([("keys/a/1", "v1")])
        let oldHead = try #require(w.store.blobs.withLock { $0[LogHeadRecord.storeKey] })
        try await w.batch([("keys/a/1", "v2")])
        try await w.batch([("keys/a/2", "v1")])
        w.store.blobs.withLock { $0[LogHeadRecord.storeKey] = oldHead }
        #expect(await Self.code { _ = try await w.boot() } == "storeRolledBack")
    }

    @Test func aWriteTheHostDidNotAnswerIsReadBackBeforeTheNextHead() async throws {
        var w = try World()
        try await w.batch([("keys/a/1", "v1")])
        let flaky = FlakyStore(inner: w.store)
        let t = TrackedStore(inner: flaky, master: w.master)
        try await t.load(headSize: w.log.range.size, root: w.log.stateRoot)
        flaky.failNextPutAfterWriting = true
        await #expect(throws: (any Error).self) { _ = try await t.put("keys/a/1", value: Array("v2".utf8), expectedVersion: 1) }
        // The write happened: the root is of the store as it is, and a boot agrees.
        let root = try await t.currentRoot()
        let appended = try w.log.appending([Random.bytes(32)], stateRoot: root)
        w.log = try await w.log.store(appended, in: w.store)
        #expect(try await w.text(try await w.boot(), "keys/a/1") == "v2")
    }

    @Test func aReadWhileAWriteIsUnansweredSeesEitherVersion() async throws {
        var w = try World()
        try await w.batch([("keys/a/index", "v1")])
        let slow = SlowStore(inner: w.store)
        let t = TrackedStore(inner: slow, master: w.master)
        try await t.load(headSize: w.log.range.size, root: w.log.stateRoot)
        // The host has stored the write but its answer is late; a read of the same record meanwhile sees it.
        let writing = Task { try await t.put("keys/a/index", value: Array("v2".utf8), expectedVersion: 1) }
        try await slow.stored.wait()
        #expect(try await w.text(t, "keys/a/index") == "v2")
        slow.release.signal()
        #expect(try await writing.value.stored)
        #expect(try await w.text(t, "keys/a/index") == "v2")
    }

    @Test func digestIsOrderIndependentAndUndoesARemoval() {
        var a = StateDigest()
        var b = StateDigest()
        a.add(key: "x", version: 1, hash: [1])
        a.add(key: "y", version: 2, hash: [2])
        b.add(key: "y", version: 2, hash: [2])
        b.add(key: "x", version: 1, hash: [1])
        #expect(a.root == b.root)
        b.add(key: "z", version: 1, hash: [3])
        #expect(a.root != b.root)
        b.remove(key: "z", version: 1, hash: [3])
        #expect(a.root == b.root)
        b.remove(key: "x", version: 1, hash: [1])
        b.add(key: "x", version: 2, hash: [1])
        #expect(a.root != b.root)
        #expect(StateDigest().root != a.root)
    }

    // MARK: Witnesses

    static func witness(_ name: String) throws -> (NoteSigner, NoteVerifierKey) {
        let signer = try NoteSigner(name: name, type: .cosignatureV1, key: try Ed25519Key(seed: Random.bytes(32)))
        return (signer, signer.verifierKey)
    }

    /// `head` cosigned by `signer` at `time`, stored where the host keeps it.
    static func cosign(_ head: [UInt8], by signer: NoteSigner, at time: UInt64, into store: MemoryStore) throws {
        let note = try SignedNote(parsing: head)
        let cosigned = try SignedNote(text: note.text, signatures: note.signatures + [try signer.sign(text: note.text, timestamp: time)])
        store.blobs.withLock { $0["witness/\(signer.verifierKey.name)"] = (($0["witness/\(signer.verifierKey.name)"]?.version ?? 0) + 1, cosigned.encoded) }
    }

    @Test func witnessesCountOnlyFreshCosignaturesOfThisHeadAndProveARollback() async throws {
        var w = try World()
        let (alice, aliceKey) = try Self.witness("alice.example/witness")
        let (bob, bobKey) = try Self.witness("bob.example/witness")
        var manifest = DeploymentManifest.Log()
        manifest.witnesses = [aliceKey, bobKey]
        manifest.quorum = 2
        manifest.freshSeconds = 60
        let now: UInt64 = 1_800_000_000
        try await w.batch([("keys/a/1", "v1")])
        let oldLog = w.log
        let oldHead = try #require(w.log.head)
        #expect(try await w.log.countWitnesses(manifest, store: w.store, now: now).cosigned.isEmpty)
        try Self.cosign(oldHead, by: alice, at: now - 10, into: w.store)
        try Self.cosign(oldHead, by: bob, at: now - 61, into: w.store)
        #expect(try await w.log.countWitnesses(manifest, store: w.store, now: now) == .init(cosigned: [aliceKey.name], behind: [bobKey.name]))
        // A cosignature by a key nobody pinned (the host's own) counts for nothing.
        let (mallory, _) = try Self.witness(bobKey.name)
        try Self.cosign(oldHead, by: mallory, at: now, into: w.store)
        #expect(try await w.log.countWitnesses(manifest, store: w.store, now: now).cosigned == [aliceKey.name])

        try await w.batch([("keys/a/1", "v2")])
        try Self.cosign(try #require(w.log.head), by: alice, at: now, into: w.store)
        // The whole store as it was (old head), beside alice's newer cosignature: a rollback, by name.
        #expect(await Self.code { _ = try await oldLog.countWitnesses(manifest, store: w.store, now: now) } == "storeRolledBack")
        // Another head of the same size, signed by the same deployment key over other receipts, cosigned: a fork.
        var fork = try World(master: w.master)
        try await fork.batch([("keys/a/1", "other")])
        try Self.cosign(try #require(fork.log.head), by: alice, at: now, into: w.store)
        #expect(await Self.code { _ = try await oldLog.countWitnesses(manifest, store: w.store, now: now) } == "logForked")
    }
}

/// A store whose next put is written and then reported as failed (the answer lost).
final class FlakyStore: BlobStore, @unchecked Sendable {
    let inner: MemoryStore
    var failNextPutAfterWriting = false
    init(inner: MemoryStore) { self.inner = inner }
    func get(_ key: String) async throws -> (version: UInt64, value: [UInt8])? { try await inner.get(key) }
    func put(_ key: String, value: [UInt8], expectedVersion: UInt64) async throws -> (stored: Bool, version: UInt64) {
        let r = try await inner.put(key, value: value, expectedVersion: expectedVersion)
        if failNextPutAfterWriting {
            failNextPutAfterWriting = false
            throw StoreError(code: "timeout")
        }
        return r
    }
    func list(after: String) async throws -> (entries: [StoreEntry], more: Bool) { try await inner.list(after: after) }
}

/// A store whose put writes at once and answers only when released.
final class SlowStore: BlobStore, @unchecked Sendable {
    let inner: MemoryStore
    let stored = Signal()
    let release = Signal()
    init(inner: MemoryStore) { self.inner = inner }
    func get(_ key: String) async throws -> (version: UInt64, value: [UInt8])? { try await inner.get(key) }
    func put(_ key: String, value: [UInt8], expectedVersion: UInt64) async throws -> (stored: Bool, version: UInt64) {
        let r = try await inner.put(key, value: value, expectedVersion: expectedVersion)
        stored.signal()
        try await release.wait()
        return r
    }
    func list(after: String) async throws -> (entries: [StoreEntry], more: Bool) { try await inner.list(after: after) }

    /// A one-shot signal awaited without holding a thread.
    final class Signal: @unchecked Sendable {
        private let stream: AsyncStream<Void>
        private let continuation: AsyncStream<Void>.Continuation
        init() { (stream, continuation) = AsyncStream.makeStream(of: Void.self) }
        func signal() { continuation.yield() }
        func wait() async throws {
            var it = stream.makeAsyncIterator()
            _ = await it.next()
        }
    }
}
