import EnclaveWire
import Logging
import NIOCore
import NitroAttestation
import VsockBridge

/// The enclave's worker on the `queue` channel. It long-polls the host for jobs (the host never pushes), runs
/// each through the workload, receipts and seals each batch with one signature, and keeps every batch until the
/// host acknowledges that it is on disk: after a reconnect, unacknowledged batches are sent again, so a
/// receipt is never lost to a dropped connection. A job delivered again within this boot (its lease ran out)
/// is answered from memory with the same signed response, never performed twice.
public final class QueueWorker: Sendable {
    /// Settings.
    public struct Configuration: Sendable {
        /// Most jobs per pull (and per seal).
        public var batch: UInt32 = 256
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
        link.start()
        defer {
            link.stop()
            feed.finish()
        }
        let chain = ReceiptChain(identity: identity, log: log, store: log == nil ? nil : store, master: log == nil ? nil : master)
        var outbox: [(batch: UInt64, bytes: [UInt8])] = []
        var nextBatch: UInt64 = 0
        var answered: [String: QueueResult] = [:]
        var answeredOrder = FIFO<String>()
        var answeredBytes = 0
        var pulling = false
        var current: Channel?

        func send(_ m: QueueMessage, on channel: Channel) {
            channel.writeAndFlush(WireMessage.data(m.encoded), promise: nil)
        }
        func pullIfIdle() {
            guard let channel = current, !pulling, outbox.count < configuration.maxOutstanding else { return }
            pulling = true
            send(.pull(max: configuration.batch, waitMs: configuration.waitMs), on: channel)
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
                        // Ask for the next batch before working on this one: the host gathers it while this one
                        // is performed and sealed, so a job waits for at most one batch ahead of it.
                        if !jobs.isEmpty { pullIfIdle() }
                        if !jobs.isEmpty {
                            var fresh: [QueueJob] = []
                            var repeats: [QueueResult] = []
                            for job in jobs {
                                if var known = answered[job.tenant + "/" + job.requestID] {
                                    known.jobID = job.id
                                    repeats.append(known)
                                } else {
                                    fresh.append(job)
                                }
                            }
                            var results = repeats
                            if !fresh.isEmpty {
                                do {
                                    let sealed = try await chain.seal(await perform(fresh))
                                    for s in sealed {
                                        answered[s.requestKey] = s.result
                                        answeredOrder.push(s.requestKey)
                                        answeredBytes += s.result.response.count + s.result.receipt.count
                                        results.append(s.result)
                                    }
                                    while answeredBytes > configuration.rememberedBytes, let key = answeredOrder.pop() {
                                        if let old = answered.removeValue(forKey: key) { answeredBytes -= old.response.count + old.receipt.count }
                                    }
                                } catch {
                                    // Without a signature (or a stored log head) nothing can be answered; the leases
                                    // run out and the jobs come back (to this enclave or, after a restart, to the next).
                                    logger.error("queue: sealing a batch failed: \(error)")
                                }
                            }
                            for part in Self.split(results, maxBytes: maxFrameSize - DeploymentManifest.API.frameOverhead) {
                                nextBatch += 1
                                let bytes = QueueMessage.results(batch: nextBatch, boot: identity.bootHash, items: part).encoded
                                outbox.append((nextBatch, bytes))
                                channel.writeAndFlush(WireMessage.data(bytes), promise: nil)
                            }
                        }
                        pullIfIdle()
                    case .ack(let batch):
                        outbox.removeAll { $0.batch <= batch }
                        pullIfIdle()
                    case .pull, .results, .attestation, .attestationFailed:
                        logger.warning("queue channel: the host sent an enclave message; closing")
                        channel.close(promise: nil)
                    }
                }
            }
        } onCancel: {
            feed.finish()
        }
    }

    /// Prepares the jobs of one pull concurrently, then runs them in the order their scopes need
    /// (`PullSchedule`); outcomes come back in the jobs' order.
    private func perform(_ jobs: [QueueJob]) async -> [ReceiptChain.Outcome] {
        let workload = self.workload
        let store = self.store
        let requests = jobs.map { JobRequest(requestID: $0.requestID, tenant: $0.tenant, operation: $0.operation, body: $0.body) }
        let prepared: [PreparedJob]
        if requests.count == 1 {
            prepared = [await workload.prepare(requests[0])]
        } else {
            prepared = await withTaskGroup(of: (Int, PreparedJob).self) { group in
                for (i, r) in requests.enumerated() { group.addTask { (i, await workload.prepare(r)) } }
                var out = [PreparedJob?](repeating: nil, count: requests.count)
                for await (i, p) in group { out[i] = p }
                return out.map { $0! }
            }
        }
        let outcomes = await PullSchedule.run(prepared) { await workload.perform($0, store: store) }
        return zip(jobs, outcomes).map { Self.receiptable($0, $1) }
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
