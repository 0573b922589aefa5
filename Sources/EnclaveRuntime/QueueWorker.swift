import EnclaveWire
import Logging
import NIOCore
import NitroAttestation
import VsockBridge

/// The enclave's worker on the `queue` channel. It long-polls the host for jobs (the host never pushes) and keeps
/// pulling while jobs run, up to `maxInFlight` unanswered. Jobs run concurrently, at most `maxRunning` at once, in
/// the order their scopes need across pulls (`JobScheduler`). Finished jobs are receipted and sealed in group
/// commits: one seal at a time, each of whatever finished since the previous one, with one signature (and, with a
/// deployment log, its head stored before any of them is answered), so a job is answered when it is done, not when
/// the slowest job pulled with it is. Every results message is kept until the host acknowledges that it is on
/// disk: after a reconnect, unacknowledged ones are sent again, so a receipt is never lost to a dropped connection.
/// A job delivered again within this boot (its lease ran out) is answered from memory with the same signed
/// response, or by the run still under way, never performed twice.
public final class QueueWorker: Sendable {
    /// Settings.
    public struct Configuration: Sendable {
        /// Most jobs per pull, and per seal.
        public var batch: UInt32 = 256
        /// Most jobs performed at once.
        public var maxRunning = 256
        /// Most jobs pulled and not yet answered (being prepared, waiting for their scope, running, being sealed);
        /// the worker pulls no more until some are answered.
        public var maxInFlight = 1024
        /// How long the host may hold a pull open.
        public var waitMs: UInt32 = 20_000
        /// Unacknowledged batches before the worker stops pulling.
        public var maxOutstanding = 64
        /// Bytes of signed responses remembered for repeats (the oldest are forgotten first; the host still
        /// answers a repeat of a finished job from its own copy).
        public var rememberedBytes = 32 << 20

        public init() {}
    }

    enum Event: Sendable {
        case connected(Channel)
        case message(QueueMessage, Channel)
        /// A pull's jobs, prepared (numbered in the order the pulls came).
        case prepared(Int, [(QueueJob, PreparedJob)])
        /// A job (`JobScheduler`'s id) was performed.
        case performed(Int, JobOutcome)
        case sealed(Result<[ReceiptChain.Sealed], any Error>)
    }

    private let link: BridgeLink
    private let events: AsyncStream<Event>
    private let feed: AsyncStream<Event>.Continuation
    private let identity: EnclaveIdentity
    private let workload: any JobWorkload
    private let store: any BlobStore
    private let log: DeploymentLog?
    private let master: MasterSecret?
    private let configuration: Configuration
    private let logger: Logger
    private let maxFrameSize: Int

    public init(
        bridge: BridgeAddress, prover: ChannelProver, identity: EnclaveIdentity, workload: any JobWorkload, store: any BlobStore, log: DeploymentLog? = nil,
        master: MasterSecret? = nil, configuration: Configuration = Configuration(), maxFrameSize: Int, group: EventLoopGroup, logger: Logger
    ) {
        let (events, feed) = AsyncStream.makeStream(of: Event.self)
        self.events = events
        self.feed = feed
        self.identity = identity
        self.workload = workload
        self.store = store
        self.log = log
        self.master = master
        self.configuration = configuration
        self.logger = logger
        self.maxFrameSize = maxFrameSize
        link = BridgeLink(
            bridge: bridge, kind: .queue, prover: prover,
            maxFrameSize: maxFrameSize, group: group, logger: logger,
            onConnect: { feed.yield(.connected($0)) },
            onMessage: { message, channel in
                if case .close(let code, let reason) = message {
                    logger.notice("the host closed the queue channel", metadata: ["code": "\(code)", "reason": "\(reason.prefix(200))"])
                    channel.close(promise: nil)
                    return
                }
                guard case .data(let bytes) = message, let m = try? QueueMessage(encoded: bytes, maxSize: maxFrameSize) else {
                    logger.warning("queue channel: not a queue message from the host; closing")
                    channel.close(promise: nil)
                    return
                }
                feed.yield(.message(m, channel))
            })
    }

    /// Runs until the task is cancelled.
    public func run() async {
        let (identity, log, store, master, feed) = (self.identity, self.log, self.store, self.master, self.feed)
        let (workload, logger, configuration, maxFrameSize) = (self.workload, self.logger, self.configuration, self.maxFrameSize)
        link.start()
        defer {
            link.stop()
            feed.finish()
        }
        let (sealRequests, sealFeed) = AsyncStream.makeStream(of: [ReceiptChain.Outcome].self)
        var outbox: [(batch: UInt64, bytes: [UInt8])] = []
        var nextBatch: UInt64 = 0
        var answered: [String: QueueResult] = [:]
        var answeredOrder = FIFO<String>()
        var answeredBytes = 0
        var pulling = false
        var current: Channel?
        // Jobs pulled and not answered yet, by request key: the host's job ids the one run answers (a job whose lease
        // ran out while it ran comes again, and is not run twice).
        var inFlight: [String: [UInt64]] = [:]
        // Pulls are prepared concurrently and admitted to the scheduler in the order they came.
        var pulls = 0
        var nextAdmit = 0
        var prepared: [Int: [(QueueJob, PreparedJob)]] = [:]
        var scheduler = JobScheduler(maxRunning: configuration.maxRunning)
        var admitted: [Int: (job: QueueJob, prepared: PreparedJob)] = [:]
        var commits = GroupCommit<ReceiptChain.Outcome>(max: Int(configuration.batch))
        var sealing: [ReceiptChain.Outcome] = []

        func send(_ results: [QueueResult]) {
            for part in Self.split(results, maxBytes: maxFrameSize - DeploymentManifest.API.frameOverhead) {
                nextBatch += 1
                let bytes = QueueMessage.results(batch: nextBatch, boot: identity.bootHash, items: part).encoded
                outbox.append((nextBatch, bytes))
                current?.writeAndFlush(WireMessage.data(bytes), promise: nil)
            }
        }
        func pullIfIdle() {
            let room = configuration.maxInFlight - inFlight.count
            guard let channel = current, !pulling, outbox.count < configuration.maxOutstanding, room > 0 else { return }
            pulling = true
            let m = QueueMessage.pull(max: UInt32(min(Int(configuration.batch), room)), waitMs: configuration.waitMs)
            channel.writeAndFlush(WireMessage.data(m.encoded), promise: nil)
        }
        func sealIfIdle() {
            guard let group = commits.next() else { return }
            sealing = group
            sealFeed.yield(group)
        }
        func sealed(_ result: Result<[ReceiptChain.Sealed], any Error>) {
            commits.done()
            let group = sealing
            sealing = []
            switch result {
            case .success(let sealed):
                var results: [QueueResult] = []
                for s in sealed {
                    answered[s.requestKey] = s.result
                    answeredOrder.push(s.requestKey)
                    answeredBytes += s.result.response.count + s.result.receipt.count
                    results.append(s.result)
                    for other in inFlight.removeValue(forKey: s.requestKey) ?? [] where other != s.jobID {
                        var copy = s.result
                        copy.jobID = other
                        results.append(copy)
                    }
                }
                while answeredBytes > configuration.rememberedBytes, let key = answeredOrder.pop() {
                    if let old = answered.removeValue(forKey: key) { answeredBytes -= old.response.count + old.receipt.count }
                }
                send(results)
            case .failure(let error):
                // Without a signature (or a stored log head) nothing can be answered; the leases run out and the jobs
                // come back (to this enclave, which runs them again, or after a restart to the next).
                logger.error("queue: sealing \(group.count) job(s) failed: \(error)")
                for o in group { inFlight[o.job.tenant + "/" + o.job.requestID] = nil }
            }
        }

        await withDiscardingTaskGroup { tasks in
            tasks.addTask {
                // The receipt chain's one owner.
                let chain = ReceiptChain(identity: identity, log: log, store: log == nil ? nil : store, master: log == nil ? nil : master)
                for await outcomes in sealRequests {
                    do { feed.yield(.sealed(.success(try await chain.seal(outcomes)))) } catch { feed.yield(.sealed(.failure(error))) }
                }
            }
            func startReady() {
                for id in scheduler.start() {
                    let job = admitted[id]!.prepared
                    tasks.addTask { feed.yield(.performed(id, await workload.perform(job, store: store))) }
                }
            }
            await withTaskCancellationHandler {
                for await event in events {
                    switch event {
                    case .connected(let channel):
                        current = channel
                        pulling = false
                        for item in outbox { channel.writeAndFlush(WireMessage.data(item.bytes), promise: nil) }
                        if !outbox.isEmpty { logger.info("queue: sent \(outbox.count) unacknowledged batch(es) again") }
                        pullIfIdle()
                    case .message(let message, let channel):
                        guard channel === current else { continue }
                        switch message {
                        case .work(let jobs, let attestations):
                            pulling = false
                            for request in attestations { attest(request, on: channel) }
                            var repeats: [QueueResult] = []
                            var fresh: [QueueJob] = []
                            for job in jobs {
                                let key = job.tenant + "/" + job.requestID
                                if var known = answered[key] {
                                    known.jobID = job.id
                                    repeats.append(known)
                                } else if let ids = inFlight[key] {
                                    if !ids.contains(job.id) { inFlight[key] = ids + [job.id] }
                                } else {
                                    inFlight[key] = [job.id]
                                    fresh.append(job)
                                }
                            }
                            if !repeats.isEmpty { send(repeats) }
                            if !fresh.isEmpty {
                                let pull = pulls
                                pulls += 1
                                tasks.addTask { feed.yield(.prepared(pull, await Self.prepare(fresh, workload: workload))) }
                            }
                            pullIfIdle()
                        case .ack(let batch):
                            outbox.removeAll { $0.batch <= batch }
                            pullIfIdle()
                        case .pull, .results, .attestation, .attestationFailed:
                            logger.warning("queue channel: the host sent an enclave message; closing")
                            channel.close(promise: nil)
                        }
                    case .prepared(let pull, let jobs):
                        prepared[pull] = jobs
                        while let next = prepared.removeValue(forKey: nextAdmit) {
                            nextAdmit += 1
                            for (job, p) in next { admitted[scheduler.admit(tenant: job.tenant, scope: p.scope).id] = (job, p) }
                        }
                        startReady()
                    case .performed(let id, let outcome):
                        scheduler.finish(id)
                        let job = admitted.removeValue(forKey: id)!.job
                        commits.finished(Self.receiptable(job, outcome))
                        startReady()
                        sealIfIdle()
                    case .sealed(let result):
                        sealed(result)
                        sealIfIdle()
                        pullIfIdle()
                    }
                }
            } onCancel: {
                feed.finish()
            }
            sealFeed.finish()
            tasks.cancelAll()
        }
    }

    /// Prepares the jobs of one pull concurrently; they come back in the pull's order.
    private static func prepare(_ jobs: [QueueJob], workload: any JobWorkload) async -> [(QueueJob, PreparedJob)] {
        let requests = jobs.map { JobRequest(requestID: $0.requestID, tenant: $0.tenant, operation: $0.operation, body: $0.body) }
        if requests.count == 1 { return [(jobs[0], await workload.prepare(requests[0]))] }
        return await withTaskGroup(of: (Int, PreparedJob).self) { group in
            for (i, r) in requests.enumerated() { group.addTask { (i, await workload.prepare(r)) } }
            var out = [PreparedJob?](repeating: nil, count: requests.count)
            for await (i, p) in group { out[i] = p }
            return zip(jobs, out.map { $0! }).map { ($0, $1) }
        }
    }

    private static func receiptable(_ job: QueueJob, _ outcome: JobOutcome) -> ReceiptChain.Outcome {
        let hash = RequestDigest.hash(tenant: job.tenant, operation: job.operation, requestID: job.requestID, body: job.body)
        var outcome = outcome
        if !RequestLimits.isValidStatus(outcome.status) { outcome = .failure("workloadError", "the workload answered an invalid status") }
        if outcome.result.count > SignedResponse.maxResultSize {
            outcome = .failure("resultTooLarge", "the result is larger than \(SignedResponse.maxResultSize) bytes")
        }
        return ReceiptChain.Outcome(
            job: job, requestHash: hash, status: outcome.status, result: outcome.result, tenantRoot: outcome.tenantRoot, approvers: outcome.approvers)
    }

    private func attest(_ request: QueueMessage.AttestationRequest, on channel: Channel) {
        let identity = self.identity
        let logger = self.logger
        Task {
            let answer: QueueMessage
            do {
                answer = .attestation(id: request.id, document: try await identity.attest(nonce: request.nonce))
            } catch {
                logger.warning("queue: attestation for a client failed: \(error)")
                answer = .attestationFailed(id: request.id, reason: "\(error)")
            }
            channel.writeAndFlush(WireMessage.data(answer.encoded), promise: nil)
        }
    }

    /// Splits results into messages of at most about `maxBytes` each (a result is never split).
    static func split(_ results: [QueueResult], maxBytes: Int) -> [[QueueResult]] {
        var parts: [[QueueResult]] = []
        var part: [QueueResult] = []
        var size = 0
        for r in results {
            let s = r.response.count + r.receipt.count + 64
            if !part.isEmpty && (size + s > maxBytes || part.count == QueueMessage.maxBatch) {
                parts.append(part)
                part = []
                size = 0
            }
            part.append(r)
            size += s
        }
        if !part.isEmpty { parts.append(part) }
        return parts
    }
}
