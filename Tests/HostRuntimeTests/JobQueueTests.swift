import EnclaveWire
import Foundation
import GRDB
import NIOCore
import NIOPosix
import Testing

@testable import HostRuntime

/// A queue on a fresh SQLite file in a temporary directory.
struct QueueFixture {
    let directory: URL
    let database: HostDatabase
    let queue: JobQueue
    let tenantID: Int64

    init(leaseMs: Int = 30_000, directory: URL? = nil) throws {
        let dir = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("cloister-queue-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        self.directory = dir
        database = try HostDatabase(path: dir.appendingPathComponent("cloister.sqlite").path)
        var c = JobQueue.Configuration()
        c.leaseMs = leaseMs
        queue = JobQueue(database: database, configuration: c, eventLoop: MultiThreadedEventLoopGroup.singleton.next(), logger: .init(label: "test"))
        try database.pool.write { db in try db.execute(sql: "INSERT INTO tenants (name, created) VALUES ('acme', 0) ON CONFLICT DO NOTHING") }
        tenantID = try database.pool.read { db in try Int64.fetchOne(db, sql: "SELECT id FROM tenants WHERE name = 'acme'")! }
        try queue.start()
    }

    /// Another queue over the same database with a different message budget (the fixture's own is stopped).
    init(reusing other: QueueFixture, maxWorkBytes: Int) {
        other.queue.stop()
        directory = other.directory
        database = other.database
        tenantID = other.tenantID
        var c = JobQueue.Configuration()
        c.maxWorkBytes = maxWorkBytes
        queue = JobQueue(database: database, configuration: c, eventLoop: MultiThreadedEventLoopGroup.singleton.next(), logger: .init(label: "test"))
        try? queue.start()
    }

    func submit(_ id: String, _ body: String = "x", op: String = "echo") async throws -> JobQueue.Submitted {
        try await queue.submit(tenantID: tenantID, tenant: "acme", requestID: id, operation: op, body: Array(body.utf8))
    }

    /// A result for `job` as the enclave would send it (the host stores it without reading it).
    static func result(_ job: QueueJob, sequence: UInt64) -> QueueResult {
        QueueResult(jobID: job.id, sequence: sequence, status: "ok", response: Array("response \(job.requestID)".utf8), receipt: Array("receipt \(sequence)".utf8))
    }
}

@Suite struct JobQueueTests {
    @Test func everyCommitIsSynced() throws {
        // WAL with synchronous = NORMAL would acknowledge jobs that a power cut loses.
        let f = try QueueFixture()
        #expect(try f.database.synchronousLevel() == 2)
        #expect(try f.database.pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") } == "wal")
    }

    @Test func aSubmittedJobIsOnDiskAndSurvivesReopening() async throws {
        let f = try QueueFixture()
        guard case .queued(let id) = try await f.submit("r1", "hello") else { Issue.record("not queued"); return }
        f.queue.stop()
        // A new database handle and a new queue (a restarted host) find the job waiting.
        let again = try QueueFixture(directory: f.directory)
        let (jobs, _) = await again.queue.lease(owner: again.queue.connected(), max: 10, wait: .zero)
        #expect(jobs.map(\.id) == [id])
        #expect(jobs.first?.body == Array("hello".utf8))
        #expect(jobs.first?.requestID == "r1")
    }

    @Test func theSameRequestIsOneJobAndAReusedIdIsRefused() async throws {
        let f = try QueueFixture()
        guard case .queued(let id) = try await f.submit("r1", "a") else { Issue.record("not queued"); return }
        guard case .existing(let again, nil) = try await f.submit("r1", "a") else { Issue.record("not existing"); return }
        #expect(again == id)
        await #expect(throws: APIError(409, "requestIdReused", "")) { try await f.submit("r1", "b") }
        await #expect(throws: APIError(409, "requestIdReused", "")) { try await f.submit("r1", "a", op: "sha256") }
        #expect(f.queue.snapshot.waiting == 1)
    }

    @Test func concurrentSubmissionsShareCommits() async throws {
        let f = try QueueFixture()
        let before = f.queue.committer.counts
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<400 { group.addTask { _ = try await f.submit("c\(i)") } }
            try await group.waitForAll()
        }
        let after = f.queue.committer.counts
        #expect(after.operations - before.operations == 400)
        // Group commit: far fewer transactions (fsyncs) than jobs.
        #expect(after.commits - before.commits < 200, "commits \(after.commits - before.commits) for 400 jobs")
        let count = try await f.database.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs")! }
        #expect(count == 400)
    }

    @Test func aPullWaitsForWorkAndWakesWhenItArrives() async throws {
        let f = try QueueFixture()
        let owner = f.queue.connected()
        async let pulled = f.queue.lease(owner: owner, max: 5, wait: .seconds(20))
        try await Task.sleep(for: .milliseconds(100))
        _ = try await f.submit("w1")
        let (jobs, _) = await pulled
        #expect(jobs.map(\.requestID) == ["w1"])
        let (none, _) = await f.queue.lease(owner: owner, max: 5, wait: .milliseconds(50))
        #expect(none.isEmpty)
    }

    @Test func anExpiredLeaseComesBackWithTheNextAttempt() async throws {
        let f = try QueueFixture(leaseMs: 500)
        _ = try await f.submit("l1")
        let owner = f.queue.connected()
        let (first, _) = await f.queue.lease(owner: owner, max: 1, wait: .zero)
        #expect(first.first?.attempt == 1)
        let (second, _) = await f.queue.lease(owner: owner, max: 1, wait: .seconds(10))
        #expect(second.map(\.id) == first.map(\.id))
        #expect(second.first?.attempt == 2)
        #expect(f.queue.snapshot.expired >= 1)
    }

    @Test func aDroppedConnectionReturnsItsLeasesAtOnce() async throws {
        let f = try QueueFixture()
        for i in 0..<3 { _ = try await f.submit("d\(i)") }
        let a = f.queue.connected()
        let (leased, _) = await f.queue.lease(owner: a, max: 2, wait: .zero)
        #expect(leased.count == 2)
        f.queue.disconnected(a)
        let b = f.queue.connected()
        let (again, _) = await f.queue.lease(owner: b, max: 10, wait: .zero)
        // The returned leases come first, then the job never leased.
        #expect(again.map(\.requestID) == ["d0", "d1", "d2"])
        #expect(again.prefix(2).allSatisfy { $0.attempt == 2 })
        // A disconnected owner gets nothing more, at once, even with work waiting.
        _ = try await f.submit("d9")
        let start = ContinuousClock.now
        let (none, _) = await f.queue.lease(owner: a, max: 10, wait: .seconds(5))
        #expect(none.isEmpty)
        #expect(ContinuousClock.now - start < .seconds(2))
        #expect(f.queue.snapshot.waiting == 1)
    }

    @Test func tenantsAreServedInTurnSoAFloodDelaysOthersByOneJob() async throws {
        // One tenant's 50 waiting jobs, then another's 3: in arrival order the other tenant's first job would go
        // out 51st; served in turn it goes second, and each tenant's own jobs keep their order.
        let f = try QueueFixture()
        let other = try await f.database.pool.write { db -> Int64 in
            try db.execute(sql: "INSERT INTO tenants (name, created) VALUES ('other', 0)")
            return db.lastInsertedRowID
        }
        for i in 0..<50 { _ = try await f.submit("a\(i)") }
        for i in 0..<3 {
            _ = try await f.queue.submit(tenantID: other, tenant: "other", requestID: "b\(i)", operation: "echo", body: [1])
        }
        _ = try await f.submit("a50")
        let owner = f.queue.connected()
        let (first, _) = await f.queue.lease(owner: owner, max: 4, wait: .zero)
        #expect(first.map(\.requestID) == ["a0", "b0", "a1", "b1"])
        // Leases given back go ahead of every tenant's line (in arrival order), then the turns go on where they were.
        f.queue.disconnected(owner)
        let again = f.queue.connected()
        let (next, _) = await f.queue.lease(owner: again, max: 7, wait: .zero)
        #expect(next.map(\.requestID) == ["a0", "a1", "b0", "b1", "a2", "b2", "a3"])
        let (rest, _) = await f.queue.lease(owner: again, max: 100, wait: .zero)
        #expect(rest.map(\.requestID) == (4...50).map { "a\($0)" })
        #expect(f.queue.snapshot.waiting == 0)
    }

    @Test func aPullWhileJobsAreLeasedTakesTheNextAndResultsMayComeInAnyOrder() async throws {
        // The enclave keeps pulling while jobs run and answers each when it is done.
        let f = try QueueFixture()
        var ids: [UInt64] = []
        for i in 0..<4 {
            guard case .queued(let id) = try await f.submit("o\(i)") else { Issue.record("not queued"); return }
            ids.append(id)
        }
        let owner = f.queue.connected()
        let (first, _) = await f.queue.lease(owner: owner, max: 2, wait: .zero)
        let (second, _) = await f.queue.lease(owner: owner, max: 10, wait: .zero)
        #expect(first.map(\.requestID) == ["o0", "o1"])
        #expect(second.map(\.requestID) == ["o2", "o3"])
        #expect(f.queue.snapshot.leased == 4)
        async let waited = f.queue.awaitCompletion(ids[0], timeout: .seconds(20))
        // The last pulled is sealed first, the first pulled last, each in its own batch.
        let boot = [UInt8](repeating: 3, count: 32)
        for (n, job) in (first + second).reversed().enumerated() {
            try await f.queue.complete(boot: boot, items: [QueueFixture.result(job, sequence: UInt64(n + 1))])
        }
        #expect(await waited?.sequence == 4)
        for (n, id) in ids.enumerated() { #expect(try f.queue.completion(jobID: id)?.sequence == UInt64(4 - n)) }
        #expect(f.queue.snapshot.leased == 0 && f.queue.snapshot.waiting == 0)
    }

    @Test func theFirstResultWinsAndEveryReceiptIsKept() async throws {
        let f = try QueueFixture()
        guard case .queued(let id) = try await f.submit("f1") else { Issue.record("not queued"); return }
        let owner = f.queue.connected()
        let (jobs, _) = await f.queue.lease(owner: owner, max: 1, wait: .zero)
        async let waited = f.queue.awaitCompletion(id, timeout: .seconds(20))
        try await Task.sleep(for: .milliseconds(50))
        let boot = [UInt8](repeating: 1, count: 32)
        try await f.queue.complete(boot: boot, items: [QueueFixture.result(jobs[0], sequence: 1)])
        let done = await waited
        #expect(done?.sequence == 1)
        #expect(done?.response == Array("response f1".utf8))
        // The same job finished again (another boot ran it after a lease ran out): stored receipt, same answer.
        var late = QueueFixture.result(jobs[0], sequence: 7)
        late.response = Array("other".utf8)
        try await f.queue.complete(boot: [UInt8](repeating: 2, count: 32), items: [late])
        #expect(try f.queue.completion(jobID: id)?.response == Array("response f1".utf8))
        // A batch sent twice (after a reconnect) stores nothing twice.
        try await f.queue.complete(boot: boot, items: [QueueFixture.result(jobs[0], sequence: 1)])
        let receipts = try await f.database.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM receipts")! }
        #expect(receipts == 2)
        guard case .existing(_, let stored?) = try await f.submit("f1") else { Issue.record("no stored completion"); return }
        #expect(stored.response == Array("response f1".utf8))
    }

    @Test func aPullCarriesNoMoreBodyBytesThanAFrameHolds() async throws {
        var f = try QueueFixture()
        f = QueueFixture(reusing: f, maxWorkBytes: 2 * (1000 + 256))
        for i in 0..<5 { _ = try await f.submit("b\(i)", String(repeating: "x", count: 1000)) }
        _ = try await f.submit("big", String(repeating: "y", count: 10_000))
        let owner = f.queue.connected()
        var sizes: [Int] = []
        while true {
            let (jobs, _) = await f.queue.lease(owner: owner, max: 100, wait: .zero)
            if jobs.isEmpty { break }
            sizes.append(jobs.count)
        }
        // Two bodies per message; the one larger than the budget goes alone rather than never.
        #expect(sizes == [2, 2, 1, 1])
    }

    @Test func aJobFinishedWhileItWaitedIsDroppedAndItsTenantKeepsItsTurn() async throws {
        // After a restart the enclave may send again the answer of a job that waits in its line: the job is finished
        // and dropped when a pull reaches it, and its tenant's next job still goes before the other tenant's.
        let f = try QueueFixture()
        let other = try await f.database.pool.write { db -> Int64 in
            try db.execute(sql: "INSERT INTO tenants (name, created) VALUES ('other', 0)")
            return db.lastInsertedRowID
        }
        guard case .queued(let a0) = try await f.submit("a0") else { Issue.record("not queued"); return }
        _ = try await f.submit("a1")
        _ = try await f.queue.submit(tenantID: other, tenant: "other", requestID: "b0", operation: "echo", body: [1])
        try await f.queue.complete(
            boot: [1], items: [QueueResult(jobID: a0, sequence: 0, status: "ok", response: Array("r".utf8), receipt: Array("receipt 0".utf8))])
        let (jobs, _) = await f.queue.lease(owner: f.queue.connected(), max: 10, wait: .zero)
        #expect(jobs.map(\.requestID) == ["a1", "b0"])
    }

    @Test func aJobThatDoesNotFitTheMessageKeepsItsTenantsTurn() async throws {
        // Room for two small bodies a message; the other tenant's large job, whose turn comes second, waits for the
        // next message without losing its turn to the first tenant's next job.
        var f = try QueueFixture()
        f = QueueFixture(reusing: f, maxWorkBytes: 2 * (1000 + 256))
        let other = try await f.database.pool.write { db -> Int64 in
            try db.execute(sql: "INSERT INTO tenants (name, created) VALUES ('other', 0)")
            return db.lastInsertedRowID
        }
        for i in 0..<3 { _ = try await f.submit("a\(i)", String(repeating: "x", count: 1000)) }
        _ = try await f.queue.submit(tenantID: other, tenant: "other", requestID: "big", operation: "echo", body: Array(repeating: 0x79, count: 5000))
        let owner = f.queue.connected()
        var messages: [[String]] = []
        while true {
            let (jobs, _) = await f.queue.lease(owner: owner, max: 100, wait: .zero)
            if jobs.isEmpty { break }
            messages.append(jobs.map(\.requestID))
        }
        #expect(messages == [["a0"], ["big"], ["a1", "a2"]])
    }

    @Test func awaitingAnUnfinishedJobTimesOut() async throws {
        let f = try QueueFixture()
        guard case .queued(let id) = try await f.submit("t1") else { Issue.record("not queued"); return }
        let start = ContinuousClock.now
        #expect(await f.queue.awaitCompletion(id, timeout: .milliseconds(200)) == nil)
        #expect(ContinuousClock.now - start >= .milliseconds(190))
    }

    @Test func attestationNeedsAConnectedEnclaveAndGetsItsAnswer() async throws {
        let f = try QueueFixture()
        await #expect(throws: APIError(503, "enclaveUnavailable", "")) { try await f.queue.attestation(nonce: [1]) }
        let owner = f.queue.connected()
        async let document = f.queue.attestation(nonce: [9, 9])
        // The request may reach the queue after a lease began waiting: lease until it is there.
        var requests: [QueueMessage.AttestationRequest] = []
        let deadline = ContinuousClock.now + .seconds(90)
        while requests.isEmpty && ContinuousClock.now < deadline { requests = await f.queue.lease(owner: owner, max: 1, wait: .seconds(2)).1 }
        #expect(requests.map(\.nonce) == [[9, 9]])
        f.queue.attested(id: try #require(requests.first).id, .success([0xAB]))
        let answer = try await document
        #expect(answer == [0xAB])
    }

    @Test func aFullQueueRefusesMore() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-queue-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let database = try HostDatabase(path: dir.appendingPathComponent("q.sqlite").path)
        var c = JobQueue.Configuration()
        c.maxQueued = 2
        let queue = JobQueue(database: database, configuration: c, eventLoop: MultiThreadedEventLoopGroup.singleton.next(), logger: .init(label: "t"))
        try await database.pool.write { db in try db.execute(sql: "INSERT INTO tenants (name, created) VALUES ('acme', 0)") }
        for i in 0..<2 { _ = try await queue.submit(tenantID: 1, tenant: "acme", requestID: "q\(i)", operation: "echo", body: []) }
        await #expect(throws: APIError(503, "queueFull", "")) {
            try await queue.submit(tenantID: 1, tenant: "acme", requestID: "q9", operation: "echo", body: [])
        }
    }
}

@Suite struct GroupCommitterTests {
    struct Refused: Error {}

    @Test func aFailingOperationFailsAloneAndLeavesNothingBehind() async throws {
        let f = try QueueFixture()
        let committer = GroupCommitter(pool: f.database.pool)
        let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
            for i in 0..<30 {
                group.addTask {
                    do {
                        try await committer.run { db in
                            try db.execute(sql: "INSERT INTO blobs (key, version, value, updated) VALUES (?, 1, x'00', 0)", arguments: ["k\(i)"])
                            if i % 3 == 0 { throw Refused() }
                        }
                        return (i, true)
                    } catch {
                        return (i, false)
                    }
                }
            }
            var out: [Int: Bool] = [:]
            for await (i, ok) in group { out[i] = ok }
            return out
        }
        #expect(outcomes.filter { $0.value }.count == 20)
        let keys = try await f.database.pool.read { db in try String.fetchAll(db, sql: "SELECT key FROM blobs ORDER BY key") }
        #expect(Set(keys) == Set((0..<30).filter { $0 % 3 != 0 }.map { "k\($0)" }))
    }
}
