import EnclaveWire
import Foundation
import GRDB
import Logging
import NIOCore
import Synchronization
import VsockBridge

/// A finished job as the host stores it: the enclave's signed response, passed through untouched.
public struct JobCompletion: Sendable, Hashable {
    public var jobID: UInt64
    public var status: String
    public var sequence: UInt64
    public var response: [UInt8]
}

/// The durable pull queue. A job is committed (group commit, `synchronous = FULL`) before anything is answered
/// or forwarded; then it waits in memory for the enclave's pull. Each tenant's jobs wait in their own line, in
/// arrival order, and a pull takes from the lines in turn: a tenant with thousands of jobs waiting delays another
/// tenant's next job by one job of its own, not by all of them. A leased job that is not finished within the
/// lease, or whose queue connection drops, goes back to the front of the queue. The first result stored for a
/// job wins; every receipt is stored, so the receipt log has no gap even when a job ran twice.
public final class JobQueue: Sendable {
    public struct Configuration: Sendable {
        public var leaseMs = 30_000
        /// Jobs waiting or leased before new ones are refused with 503 `queueFull`.
        public var maxQueued = 100_000
        /// Attestation requests waiting for the enclave before new ones are refused with 503 `busy`.
        public var maxPendingAttestations = 256
        /// How many of those callers without a token may hold together (beyond, 503 `anonymousBusy`): the rest are
        /// kept for callers with one, so that a flood without tokens never locks them out.
        public var maxAnonymousAttestations = 128
        /// Jobs one tenant may have unfinished (waiting or leased) before its new ones are refused with 429
        /// `tenantQueueFull`: one tenant's flood never fills `maxQueued` for the others.
        public var maxQueuedPerTenant = 10_000
        /// Body bytes one tenant may have in unfinished jobs before its new ones are refused with 429
        /// `tenantBytesInFlight`.
        public var maxBytesPerTenant = 256 * 1024 * 1024
        public var attestationTimeout = TimeAmount.seconds(10)
        /// Most bytes of job bodies one `work` message carries (it must fit the bridge's frame limit); a single
        /// job always goes, whatever its size.
        public var maxWorkBytes = WireFrame.defaultMaxFrameSize - 64 * 1024

        public init() {}
    }

    private struct Lease {
        var job: QueueJob
        var deadline: NIODeadline
        var owner: UInt64
    }

    private struct Puller {
        var id: UInt64
        var owner: UInt64
        var max: Int
        var continuation: CheckedContinuation<([QueueJob], [QueueMessage.AttestationRequest]), Never>
        var timer: Scheduled<Void>?
    }

    private struct AttestationWaiter {
        var continuation: CheckedContinuation<Result<[UInt8], APIError>, Never>
        var timer: Scheduled<Void>?
        var anonymous: Bool
    }

    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<JobCompletion?, Never>
        var timer: Scheduled<Void>?
    }

    private struct State {
        var ready: [UInt64: QueueJob] = [:]
        /// Jobs never leased: each tenant's in arrival order, the tenants served in turn.
        var waiting = TurnQueue<String, UInt64>()
        var retry = FIFO<UInt64>()
        var leased: [UInt64: Lease] = [:]
        var pullers: [Puller] = []
        var owners = Set<UInt64>()
        var nextID: UInt64 = 0
        var attestations = FIFO<QueueMessage.AttestationRequest>()
        var attestationWaiters: [UInt64: AttestationWaiter] = [:]
        var anonymousAttestations = 0
        var loads = TenantLoads()
        var completionWaiters: [UInt64: [Waiter]] = [:]
        var enqueued: UInt64 = 0
        var completed: UInt64 = 0
        var repeated: UInt64 = 0
        var expired: UInt64 = 0
    }

    public let database: HostDatabase
    public let committer: GroupCommitter
    public let configuration: Configuration
    private let loop: EventLoop
    private let logger: Logger
    private let state = Mutex(State())
    private let sweeper = Mutex<RepeatedTask?>(nil)

    public init(database: HostDatabase, configuration: Configuration, eventLoop: EventLoop, logger: Logger) {
        self.database = database
        self.committer = GroupCommitter(pool: database.pool)
        self.configuration = configuration
        self.loop = eventLoop
        self.logger = logger
    }

    /// Loads every unfinished job (after a restart they are all unleased) and starts the lease sweeper.
    public func start() throws {
        let rows = try database.pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT jobs.id, jobs.request_id, tenants.name, jobs.op, jobs.body FROM jobs JOIN tenants ON tenants.id = jobs.tenant_id
                    WHERE jobs.completed IS NULL ORDER BY jobs.id
                    """)
        }
        state.withLock { s in
            for r in rows {
                let id = UInt64(r[0] as Int64)
                let job = QueueJob(id: id, requestID: r[1], tenant: r[2], operation: r[3], body: (r[4] as Data).bytes, attempt: 1)
                s.ready[id] = job
                s.waiting.push(job.id, owner: job.tenant)
                s.loads.queued(tenant: job.tenant, bytes: job.body.count)
            }
        }
        if !rows.isEmpty { logger.info("queue: \(rows.count) unfinished job(s) from before the restart are queued again") }
        deliver(state.withLock { takeForPullers(&$0) })
        let period = TimeAmount.milliseconds(Int64(max(50, min(1000, configuration.leaseMs / 4))))
        sweeper.withLock { $0 = loop.scheduleRepeatedTask(initialDelay: period, delay: period) { [self] _ in sweep() } }
    }

    public func stop() {
        sweeper.withLock { $0?.cancel() }
        let pullers = state.withLock { s in
            defer { s.pullers = [] }
            return s.pullers
        }
        for p in pullers {
            p.timer?.cancel()
            p.continuation.resume(returning: ([], []))
        }
    }

    /// What `submit` found.
    public enum Submitted: Sendable {
        /// A new job, now durable.
        case queued(UInt64)
        /// The same request (tenant, request id, operation and body) was submitted before.
        case existing(UInt64, JobCompletion?)
    }

    /// Commits a job durably and queues it. A request id a tenant already used for a different operation or body
    /// is refused with 409 `requestIdReused`. A new job beyond the queue's room is refused with 503 `queueFull`, or
    /// beyond the tenant's with 429 `tenantQueueFull` or `tenantBytesInFlight`; the same request sent again is
    /// answered from its job even then.
    public func submit(tenantID: Int64, tenant: String, requestID: String, operation: String, body: [UInt8]) async throws(APIError) -> Submitted {
        let hash = RequestDigest.hash(tenant: tenant, operation: operation, requestID: requestID, body: body)
        if let refusal = reserve(tenant: tenant, bytes: body.count) {
            let found: (Int64, [UInt8], JobCompletion?)?
            do { found = try await database.read { db in try Self.stored(db, tenantID: tenantID, requestID: requestID) } } catch {
                throw APIError.storage(error)
            }
            guard let (id, storedHash, completion) = found else { throw refusal }
            guard storedHash == hash else { throw Self.reused(requestID) }
            state.withLock { $0.repeated += 1 }
            return .existing(UInt64(id), completion)
        }
        var keep = false
        defer { if !keep { release(tenant: tenant, bytes: body.count) } }
        enum Row2: Sendable {
            case inserted(Int64)
            case existing(Int64, [UInt8], JobCompletion?)
        }
        let now = Int64(WallClock.milliseconds())
        let outcome: Row2
        do {
            outcome = try await committer.run { db in
                try db.cachedStatement(
                    sql: """
                        INSERT INTO jobs (tenant_id, request_id, op, body, request_hash, created) VALUES (?, ?, ?, ?, ?, ?)
                        ON CONFLICT (tenant_id, request_id) DO NOTHING
                        """
                ).execute(arguments: [tenantID, requestID, operation, Data(body), Data(hash), now])
                if db.changesCount == 1 { return Row2.inserted(db.lastInsertedRowID) }
                guard let (id, storedHash, completion) = try Self.stored(db, tenantID: tenantID, requestID: requestID) else {
                    throw DatabaseError(resultCode: .SQLITE_INTERNAL, message: "job vanished")
                }
                return Row2.existing(id, storedHash, completion)
            }
        } catch {
            logger.error("queue: a job could not be committed: \(error)")
            throw APIError.storage(error)
        }
        switch outcome {
        case .inserted(let id):
            let job = QueueJob(id: UInt64(id), requestID: requestID, tenant: tenant, operation: operation, body: body, attempt: 1)
            keep = true
            let wake = state.withLock { s in
                // The reservation becomes the job's: its load stays counted until it finishes.
                s.loads.committed()
                s.ready[job.id] = job
                s.waiting.push(job.id, owner: job.tenant)
                s.enqueued += 1
                return takeForPullers(&s)
            }
            deliver(wake)
            return .queued(job.id)
        case .existing(let id, let storedHash, let completion):
            guard storedHash == hash else { throw Self.reused(requestID) }
            state.withLock { $0.repeated += 1 }
            return .existing(UInt64(id), completion)
        }
    }

    /// Counts a job of `tenant` with `bytes` of body as unfinished, or says why there is no room for it.
    private func reserve(tenant: String, bytes: Int) -> APIError? {
        state.withLock { s in
            let depth = s.ready.count + s.leased.count
            return s.loads.reserve(tenant: tenant, bytes: bytes, depth: depth, configuration)
        }
    }

    /// Gives back a reservation whose job was not queued.
    private func release(tenant: String, bytes: Int) {
        state.withLock { $0.loads.released(tenant: tenant, bytes: bytes) }
    }

    /// What `tenant` has unfinished now (jobs being committed included).
    public func load(tenant: String) -> TenantLoad { state.withLock { $0.loads[tenant] } }

    /// Waits up to `timeout` for a job's completion; nil when it is still unfinished.
    public func awaitCompletion(_ jobID: UInt64, timeout: TimeAmount) async -> JobCompletion? {
        // A job neither waiting nor leased is finished (its completion is committed before it leaves `leased`),
        // or unknown: the database says which. Checking and registering under one lock leaves no gap in between.
        let waiterID = state.withLock { s -> UInt64 in
            s.nextID += 1
            return s.nextID
        }
        var finished = false
        let waited = await withCheckedContinuation { (c: CheckedContinuation<JobCompletion?, Never>) in
            let registered = state.withLock { s -> Bool in
                guard s.ready[jobID] != nil || s.leased[jobID] != nil, timeout > .zero else { return false }
                let timer = loop.scheduleTask(in: timeout) { [self] in
                    let waiter = state.withLock { s -> Waiter? in
                        guard var list = s.completionWaiters[jobID], let i = list.firstIndex(where: { $0.id == waiterID }) else { return nil }
                        let w = list.remove(at: i)
                        s.completionWaiters[jobID] = list.isEmpty ? nil : list
                        return w
                    }
                    waiter?.continuation.resume(returning: nil)
                }
                s.completionWaiters[jobID, default: []].append(Waiter(id: waiterID, continuation: c, timer: timer))
                return true
            }
            if !registered {
                finished = true
                c.resume(returning: nil)
            }
        }
        guard finished else { return waited }
        return try? await storedCompletion(jobID: jobID)
    }

    /// The stored completion of a job, without holding a thread of the cooperative pool.
    func storedCompletion(jobID: UInt64) async throws -> JobCompletion? {
        try await database.read { db in try Self.completion(db, jobID: jobID) }
    }

    /// The stored completion of a job, from the database.
    public func completion(jobID: UInt64) throws -> JobCompletion? {
        try database.pool.read { db in try Self.completion(db, jobID: jobID) }
    }

    // MARK: The enclave's side

    /// A queue connection arrived; `owner` names it until `disconnected`.
    public func connected() -> UInt64 {
        state.withLock { s in
            s.nextID += 1
            s.owners.insert(s.nextID)
            return s.nextID
        }
    }

    /// A queue connection is gone: its leases go back to the front of the queue and its pull is dropped.
    public func disconnected(_ owner: UInt64) {
        let (pullers, wake) = state.withLock { s -> ([Puller], [(Puller, [QueueJob], [QueueMessage.AttestationRequest])]) in
            s.owners.remove(owner)
            let waiting = s.pullers.filter { $0.owner == owner }
            s.pullers.removeAll { $0.owner == owner }
            // Back in their original order, ahead of jobs never leased.
            let mine = s.leased.values.filter { $0.owner == owner }.sorted { $0.job.id < $1.job.id }
            for lease in mine {
                s.leased[lease.job.id] = nil
                requeue(lease.job, &s)
            }
            let returned = mine.count
            if returned > 0 { logger.notice("queue: \(returned) leased job(s) of a dropped connection are queued again") }
            return (waiting, takeForPullers(&s))
        }
        for p in pullers {
            p.timer?.cancel()
            p.continuation.resume(returning: ([], []))
        }
        deliver(wake)
    }

    /// Long poll: up to `max` jobs (and any pending attestation requests), waiting up to `wait` for the first.
    public func lease(owner: UInt64, max: Int, wait: TimeAmount) async -> ([QueueJob], [QueueMessage.AttestationRequest]) {
        await withCheckedContinuation { c in
            let immediate = state.withLock { s -> ([QueueJob], [QueueMessage.AttestationRequest])? in
                guard s.owners.contains(owner) else { return ([], []) }
                let work = take(owner: owner, max: max, &s)
                if !work.0.isEmpty || !work.1.isEmpty || wait <= .zero { return work }
                s.nextID += 1
                let id = s.nextID
                var puller = Puller(id: id, owner: owner, max: max, continuation: c)
                puller.timer = loop.scheduleTask(in: wait) { [self] in
                    let p = state.withLock { s -> Puller? in
                        guard let i = s.pullers.firstIndex(where: { $0.id == id }) else { return nil }
                        return s.pullers.remove(at: i)
                    }
                    p?.continuation.resume(returning: ([], []))
                }
                s.pullers.append(puller)
                return nil
            }
            if let immediate { c.resume(returning: immediate) }
        }
    }

    /// Stores a batch of results and their receipts in one commit, then answers the callers waiting for them.
    public func complete(boot: [UInt8], items: [QueueResult]) async throws {
        let now = Int64(WallClock.milliseconds())
        let applied: [Bool] = try await committer.run { db in
            var applied: [Bool] = []
            let receipt = try db.cachedStatement(
                sql: "INSERT INTO receipts (boot, seq, entry, received, log_index, leaf, tenant) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (boot, seq) DO NOTHING")
            let finish = try db.cachedStatement(
                sql: "UPDATE jobs SET completed = ?, status = ?, seq = ?, response = ? WHERE id = ? AND completed IS NULL")
            for item in items {
                let filed = ReceiptFiling(item.receipt)
                try receipt.execute(
                    arguments: [Data(boot), Int64(clamping: item.sequence), Data(item.receipt), now, filed.logIndex, filed.leaf.map { Data($0) }, filed.tenant])
                try finish.execute(arguments: [now, item.status, Int64(clamping: item.sequence), Data(item.response), Int64(clamping: item.jobID)])
                applied.append(db.changesCount == 1)
            }
            return applied
        }
        var resumes: [(Waiter, JobCompletion)] = []
        state.withLock { s in
            for (i, item) in items.enumerated() {
                let leased = s.leased.removeValue(forKey: item.jobID)?.job
                let waiting = s.ready.removeValue(forKey: item.jobID)
                if let job = leased ?? waiting {
                    s.loads.finished(tenant: job.tenant, bytes: job.body.count)
                }
                guard applied[i] else { continue }
                let done = JobCompletion(jobID: item.jobID, status: item.status, sequence: item.sequence, response: item.response)
                s.completed += 1
                for w in s.completionWaiters.removeValue(forKey: item.jobID) ?? [] { resumes.append((w, done)) }
            }
        }
        for (w, done) in resumes {
            w.timer?.cancel()
            w.continuation.resume(returning: done)
        }
    }

    // MARK: Attestation

    /// Asks the enclave (on its next pull) for a fresh document carrying `nonce`. `anonymous`: the caller has no
    /// valid token, and gets a slot only within `maxAnonymousAttestations`.
    public func attestation(nonce: [UInt8], anonymous: Bool = false) async throws(APIError) -> [UInt8] {
        let result = await withCheckedContinuation { (c: CheckedContinuation<Result<[UInt8], APIError>, Never>) in
            let (refusal, wake, _) = state.withLock { s -> (APIError?, [(Puller, [QueueJob], [QueueMessage.AttestationRequest])], UInt64) in
                guard !s.owners.isEmpty else { return (APIError(503, "enclaveUnavailable", "no enclave is connected to the queue"), [], 0) }
                guard !anonymous || s.anonymousAttestations < configuration.maxAnonymousAttestations else {
                    return (
                        APIError(503, "anonymousBusy", "the attestation requests open to callers without a token are all waiting", retryAfter: 1), [], 0
                    )
                }
                guard s.attestationWaiters.count < configuration.maxPendingAttestations else {
                    return (APIError(503, "busy", "too many attestation requests are waiting", retryAfter: 1), [], 0)
                }
                s.nextID += 1
                let id = s.nextID
                let timer = loop.scheduleTask(in: configuration.attestationTimeout) { [self] () -> Void in
                    guard let waiter = state.withLock({ Self.removeAttestationWaiter(id, &$0) }) else { return }
                    waiter.continuation.resume(
                        returning: .failure(APIError(504, "enclaveTimeout", "the enclave did not answer the attestation request in time")))
                }
                s.attestations.push(.init(id: id, nonce: nonce))
                s.attestationWaiters[id] = AttestationWaiter(continuation: c, timer: timer, anonymous: anonymous)
                if anonymous { s.anonymousAttestations += 1 }
                return (nil, takeForPullers(&s), id)
            }
            if let refusal { return c.resume(returning: .failure(refusal)) }
            deliver(wake)
        }
        return try result.get()
    }

    /// The enclave's answer to an attestation request.
    public func attested(id: UInt64, _ result: Result<[UInt8], APIError>) {
        guard let waiter = state.withLock({ Self.removeAttestationWaiter(id, &$0) }) else { return }
        waiter.timer?.cancel()
        waiter.continuation.resume(returning: result)
    }

    private static func removeAttestationWaiter(_ id: UInt64, _ s: inout State) -> AttestationWaiter? {
        guard let waiter = s.attestationWaiters.removeValue(forKey: id) else { return nil }
        if waiter.anonymous { s.anonymousAttestations -= 1 }
        return waiter
    }

    /// Attestation requests waiting for the enclave: all, and those of callers without a token.
    public var pendingAttestations: (all: Int, anonymous: Int) {
        state.withLock { ($0.attestationWaiters.count, $0.anonymousAttestations) }
    }

    // MARK: Internals (called with the lock held)

    private func take(owner: UInt64, max: Int, _ s: inout State) -> ([QueueJob], [QueueMessage.AttestationRequest]) {
        var jobs: [QueueJob] = []
        var bytes = 0
        let deadline = NIODeadline.now() + .milliseconds(Int64(configuration.leaseMs))
        while jobs.count < max {
            // Peek first: a job that would push the message past the frame limit waits for the next pull.
            guard let id = s.retry.peek() ?? s.waiting.peek() else { break }
            guard let job = s.ready[id] else {
                // Finished while it waited (an answer the enclave sent again after a restart): dropped, and its
                // tenant keeps its turn.
                if s.retry.pop() == nil { s.waiting.dropFirst() }
                continue
            }
            let size = job.body.count + 256
            if !jobs.isEmpty && bytes + size > configuration.maxWorkBytes { break }
            if s.retry.pop() == nil { _ = s.waiting.pop() }
            s.ready[id] = nil
            bytes += size
            s.leased[id] = Lease(job: job, deadline: deadline, owner: owner)
            jobs.append(job)
        }
        var atts: [QueueMessage.AttestationRequest] = []
        // At most one message's worth; the rest wait for the next pull.
        while atts.count < QueueMessage.maxBatch, let a = s.attestations.pop() {
            if s.attestationWaiters[a.id] != nil { atts.append(a) }
        }
        return (jobs, atts)
    }

    private func takeForPullers(_ s: inout State) -> [(Puller, [QueueJob], [QueueMessage.AttestationRequest])] {
        var out: [(Puller, [QueueJob], [QueueMessage.AttestationRequest])] = []
        while !s.pullers.isEmpty, !s.ready.isEmpty || !s.attestations.isEmpty {
            let p = s.pullers.removeFirst()
            let work = take(owner: p.owner, max: p.max, &s)
            out.append((p, work.0, work.1))
        }
        return out
    }

    private func deliver(_ wake: [(Puller, [QueueJob], [QueueMessage.AttestationRequest])]) {
        for (p, jobs, atts) in wake {
            p.timer?.cancel()
            p.continuation.resume(returning: (jobs, atts))
        }
    }

    private func requeue(_ job: QueueJob, _ s: inout State) {
        var again = job
        again.attempt += 1
        s.ready[job.id] = again
        s.retry.push(job.id)
    }

    private func sweep() {
        let now = NIODeadline.now()
        let wake = state.withLock { s -> [(Puller, [QueueJob], [QueueMessage.AttestationRequest])] in
            let expired = s.leased.values.filter { $0.deadline <= now }.sorted { $0.job.id < $1.job.id }
            for lease in expired {
                s.leased[lease.job.id] = nil
                requeue(lease.job, &s)
            }
            let n = expired.count
            guard n > 0 else { return [] }
            s.expired += UInt64(n)
            logger.notice("queue: \(n) lease(s) ran out; the jobs are queued again")
            return takeForPullers(&s)
        }
        deliver(wake)
    }

    /// Counts for health and metrics.
    public var snapshot: (waiting: Int, leased: Int, enqueued: UInt64, completed: UInt64, repeated: UInt64, expired: UInt64, connected: Int) {
        state.withLock { s in (s.ready.count, s.leased.count, s.enqueued, s.completed, s.repeated, s.expired, s.owners.count) }
    }
}
