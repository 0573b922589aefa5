import EnclaveWire
import Foundation
import GRDB
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import HostRuntime

/// A condition a test waited for in vain.
struct NeverHappened: Error {}

/// A count several tasks add to.
final class Counter: Sendable {
    private let count = Mutex(0)
    func add() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}

/// The queue's shares: the attestation slots callers without a token may hold, and each tenant's unfinished jobs
/// and bytes.
@Suite struct JobQueueLimitsTests {
    /// A queue on a fresh database with tenants `acme` (id 1) and `other` (id 2), started with `configure`'s settings.
    static func queue(directory: URL? = nil, _ configure: (inout JobQueue.Configuration) -> Void) throws -> (JobQueue, URL) {
        let dir = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("cloister-limits-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let database = try HostDatabase(path: dir.appendingPathComponent("q.sqlite").path)
        try database.pool.write { db in
            try db.execute(sql: "INSERT INTO tenants (id, name, created) VALUES (1, 'acme', 0), (2, 'other', 0) ON CONFLICT DO NOTHING")
        }
        var c = JobQueue.Configuration()
        configure(&c)
        let queue = JobQueue(database: database, configuration: c, eventLoop: MultiThreadedEventLoopGroup.singleton.next(), logger: .init(label: "t"))
        try queue.start()
        return (queue, dir)
    }

    static func submit(_ q: JobQueue, _ tenant: String, _ id: String, bytes: Int = 1) async throws -> JobQueue.Submitted {
        try await q.submit(tenantID: tenant == "acme" ? 1 : 2, tenant: tenant, requestID: id, operation: "echo", body: [UInt8](repeating: 7, count: bytes))
    }

    /// Waits (sleeping, at most 30 s) until `condition` holds.
    static func until(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw NeverHappened() }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Leases every job waiting and finishes it.
    static func finishAll(_ q: JobQueue, owner: UInt64) async throws {
        let (jobs, _) = await q.lease(owner: owner, max: 1000, wait: .zero)
        try await q.complete(
            boot: [UInt8](repeating: 1, count: 32),
            items: jobs.enumerated().map { QueueFixture.result($0.element, sequence: UInt64($0.offset) + 1) })
    }

    @Test func anAnonymousFloodLeavesSlotsForCallersWithAToken() async throws {
        let (q, _) = try Self.queue {
            $0.maxPendingAttestations = 4
            $0.maxAnonymousAttestations = 2
        }
        let owner = q.connected()
        // More callers without a token than the whole table holds, while the enclave does not pull.
        let refusals = Counter()
        let flood = Task {
            await withTaskGroup(of: APIError?.self) { group in
                for i in 0..<8 {
                    group.addTask {
                        do {
                            _ = try await q.attestation(nonce: [UInt8(i)], anonymous: true)
                            return nil
                        } catch {
                            refusals.add()
                            return error as? APIError ?? APIError(0, "unexpected", "\(error)")
                        }
                    }
                }
                var refused: [APIError] = []
                for await e in group { if let e { refused.append(e) } }
                return refused
            }
        }
        try await Self.until { refusals.value == 6 }
        #expect(q.pendingAttestations == (all: 2, anonymous: 2))
        await #expect(throws: APIError(503, "anonymousBusy", "")) { try await q.attestation(nonce: [0xEE], anonymous: true) }
        #expect(q.pendingAttestations == (all: 2, anonymous: 2))
        // A caller with a token still finds a slot, and gets its document.
        async let mine = q.attestation(nonce: [0xAA])
        try await Self.until { q.pendingAttestations.all == 3 }
        var answered = 0
        let deadline = ContinuousClock.now + .seconds(60)
        while answered < 3 && ContinuousClock.now < deadline {
            let (_, requests) = await q.lease(owner: owner, max: 10, wait: .seconds(5))
            for r in requests {
                q.attested(id: r.id, .success([0xD0] + r.nonce))
                answered += 1
            }
        }
        #expect(try await mine == [0xD0, 0xAA])
        let refused = await flood.value
        #expect(refused.count == 6 && refused.allSatisfy { $0 == APIError(503, "anonymousBusy", "") }, "\(refused)")
        #expect(refused.allSatisfy { $0.retryAfter == 1 })
        // The share is free again once they are answered.
        #expect(q.pendingAttestations == (all: 0, anonymous: 0))
        async let again = q.attestation(nonce: [0xBB], anonymous: true)
        try await Self.until { q.pendingAttestations.anonymous == 1 }
        let (_, requests) = await q.lease(owner: owner, max: 10, wait: .seconds(5))
        for r in requests { q.attested(id: r.id, .success(r.nonce)) }
        #expect(try await again == [0xBB])
    }

    @Test func aTimedOutAnonymousRequestGivesItsSlotBack() async throws {
        let (q, _) = try Self.queue {
            $0.maxPendingAttestations = 2
            $0.maxAnonymousAttestations = 1
            $0.attestationTimeout = .milliseconds(200)
        }
        _ = q.connected()
        await #expect(throws: APIError(504, "enclaveTimeout", "")) { try await q.attestation(nonce: [1], anonymous: true) }
        #expect(q.pendingAttestations == (all: 0, anonymous: 0))
        await #expect(throws: APIError(504, "enclaveTimeout", "")) { try await q.attestation(nonce: [2], anonymous: true) }
    }

    @Test func aTenantAtItsJobLimitIsRefusedWhileAnotherSubmits() async throws {
        let (q, _) = try Self.queue { $0.maxQueuedPerTenant = 3 }
        for i in 0..<3 { _ = try await Self.submit(q, "acme", "a\(i)") }
        do {
            _ = try await Self.submit(q, "acme", "a3")
            Issue.record("a fourth job was queued")
        } catch let error as APIError {
            #expect(error == APIError(429, "tenantQueueFull", ""))
            #expect(error.retryAfter == 1)
        }
        // The other tenant is not held back, and the same request sent again is still answered from its job.
        guard case .queued = try await Self.submit(q, "other", "b0") else { Issue.record("not queued"); return }
        guard case .existing = try await Self.submit(q, "acme", "a1") else { Issue.record("a repeat was refused"); return }
        await #expect(throws: APIError(409, "requestIdReused", "")) { try await Self.submit(q, "acme", "a1", bytes: 2) }
        #expect(q.load(tenant: "acme") == TenantLoad(jobs: 3, bytes: 3))
        #expect(try await q.database.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs WHERE tenant_id = 1") } == 3)
        // Finished jobs make room again.
        try await Self.finishAll(q, owner: q.connected())
        #expect(q.load(tenant: "acme") == TenantLoad())
        for i in 4..<7 { _ = try await Self.submit(q, "acme", "a\(i)") }
        await #expect(throws: APIError(429, "tenantQueueFull", "")) { try await Self.submit(q, "acme", "a7") }
    }

    @Test func aTenantAtItsByteLimitIsRefusedWhileAnotherSubmits() async throws {
        let (q, _) = try Self.queue { $0.maxBytesPerTenant = 1000 }
        _ = try await Self.submit(q, "acme", "a0", bytes: 600)
        do {
            _ = try await Self.submit(q, "acme", "a1", bytes: 401)
            Issue.record("401 more bytes were queued")
        } catch let error as APIError {
            #expect(error == APIError(429, "tenantBytesInFlight", ""))
            #expect(error.retryAfter == 1)
        }
        _ = try await Self.submit(q, "other", "b0", bytes: 1000)
        _ = try await Self.submit(q, "acme", "a2", bytes: 400)
        #expect(q.load(tenant: "acme") == TenantLoad(jobs: 2, bytes: 1000))
        await #expect(throws: APIError(429, "tenantBytesInFlight", "")) { try await Self.submit(q, "acme", "a3", bytes: 1) }
        // A lease that runs out or a dropped connection keeps the jobs counted; finishing them frees the bytes.
        let owner = q.connected()
        let (leased, _) = await q.lease(owner: owner, max: 1, wait: .zero)
        q.disconnected(owner)
        #expect(q.load(tenant: "acme") == TenantLoad(jobs: 2, bytes: 1000))
        #expect(leased.count == 1)
        try await Self.finishAll(q, owner: q.connected())
        #expect(q.load(tenant: "acme") == TenantLoad() && q.load(tenant: "other") == TenantLoad())
        _ = try await Self.submit(q, "acme", "a4", bytes: 1000)
    }

    @Test func concurrentSubmissionsCannotPassTheLimitTogether() async throws {
        let (q, _) = try Self.queue { $0.maxQueuedPerTenant = 5 }
        let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<40 {
                group.addTask {
                    do {
                        _ = try await Self.submit(q, "acme", "c\(i)")
                        return true
                    } catch let e as APIError where e == APIError(429, "tenantQueueFull", "") { return false }
                }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 5)
        #expect(q.load(tenant: "acme").jobs == 5)
        #expect(try await q.database.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs") } == 5)
    }

    @Test func theCountsAreReadBackAfterARestartAndGoDownAsJobsFinish() async throws {
        let limits: (inout JobQueue.Configuration) -> Void = {
            $0.maxQueuedPerTenant = 2
            $0.maxBytesPerTenant = 100
        }
        let (first, dir) = try Self.queue(limits)
        _ = try await Self.submit(first, "acme", "r0", bytes: 30)
        _ = try await Self.submit(first, "acme", "r1", bytes: 40)
        first.stop()
        // A restarted host reads the unfinished jobs back and counts them against the tenant again.
        let (q, _) = try Self.queue(directory: dir, limits)
        #expect(q.load(tenant: "acme") == TenantLoad(jobs: 2, bytes: 70))
        await #expect(throws: APIError(429, "tenantQueueFull", "")) { try await Self.submit(q, "acme", "r2") }
        _ = try await Self.submit(q, "other", "o0", bytes: 100)
        try await Self.finishAll(q, owner: q.connected())
        #expect(q.load(tenant: "acme") == TenantLoad())
        _ = try await Self.submit(q, "acme", "r3", bytes: 100)
        // A result that comes again (after a reconnect) takes nothing off twice.
        let owner = q.connected()
        let (jobs, _) = await q.lease(owner: owner, max: 10, wait: .zero)
        let result = QueueFixture.result(try #require(jobs.first), sequence: 9)
        try await q.complete(boot: [UInt8](repeating: 2, count: 32), items: [result])
        try await q.complete(boot: [UInt8](repeating: 2, count: 32), items: [result])
        #expect(q.load(tenant: "acme") == TenantLoad())
        _ = try await Self.submit(q, "acme", "r4", bytes: 100)
        #expect(q.load(tenant: "acme") == TenantLoad(jobs: 1, bytes: 100))
    }
}
