import EnclaveWire
import NitroAttestation
import TransparencyLog
import VsockBridge

/// The receipt chain of this boot. Each batch of finished jobs becomes consecutive receipts linked by hash,
/// sealed with one signature over their Merkle root. With a deployment log (the enclave holds the master), each
/// batch is also appended to it and its new head stored before anything is answered, and every receipt carries its
/// index, that head and its inclusion proof. Not thread-safe: the queue worker owns it. (Public so that the audit
/// benchmark builds its logs with the enclave's own code.)
public final class ReceiptChain {
    /// One finished job, before it is receipted.
    public struct Outcome: Sendable {
        public var job: QueueJob
        public var requestHash: [UInt8]
        public var status: String
        public var result: [UInt8]
        public var tenantRoot: [UInt8]? = nil
        public var approvers: [[UInt8]]? = nil

        public init(job: QueueJob, requestHash: [UInt8], status: String, result: [UInt8], tenantRoot: [UInt8]? = nil, approvers: [[UInt8]]? = nil) {
            self.job = job
            self.requestHash = requestHash
            self.status = status
            self.result = result
            self.tenantRoot = tenantRoot
            self.approvers = approvers
        }
    }

    /// One sealed job.
    public struct Sealed: Sendable {
        public var jobID: UInt64
        public var requestKey: String
        public var result: QueueResult
    }

    public let identity: EnclaveIdentity
    public private(set) var lastSequence: UInt64 = 0
    private var previous = Receipt.genesis
    private let now: () -> UInt64
    /// The deployment log and what keeps it (nil without a master: receipts of this boot only).
    private(set) var log: DeploymentLog?
    private let logStore: (any BlobStore)?
    private let master: MasterSecret?

    /// A chain of this boot's receipts only (no deployment log).
    public convenience init(identity: EnclaveIdentity, now: @escaping () -> UInt64 = { UInt64(WallClock.milliseconds()) }) {
        self.init(identity: identity, log: nil, store: nil, master: nil, now: now)
    }

    init(
        identity: EnclaveIdentity, log: DeploymentLog?, store: (any BlobStore)?, master: MasterSecret?,
        now: @escaping () -> UInt64 = { UInt64(WallClock.milliseconds()) }
    ) {
        precondition(log == nil || (store != nil && master != nil), "a deployment log needs its store and master")
        self.identity = identity
        self.log = log
        logStore = store
        self.master = master
        self.now = now
    }

    /// One batch receipted and sealed, not yet logged or counted.
    private struct Batch {
        var first: UInt64
        var previous: [UInt8]
        var encoded: [[UInt8]]
        var proofs: [[[UInt8]]]
        var seal: [UInt8]
    }

    /// Receipts `outcomes` in order, seals them with one signature and, with a deployment log, stores the log's new
    /// head. Nothing advances (chain or log) unless all of it succeeded.
    func seal(_ outcomes: [Outcome]) async throws -> [Sealed] {
        let batch = try sign(outcomes)
        return advance(batch, outcomes, logged: try await appendToLog(batch))
    }

    /// Seals a batch of a chain without a deployment log (an enclave without a master), with no I/O.
    public func sealUnlogged(_ outcomes: [Outcome]) throws -> [Sealed] {
        precondition(log == nil, "a chain with a deployment log stores each head")
        return advance(try sign(outcomes), outcomes, logged: nil)
    }

    private func sign(_ outcomes: [Outcome]) throws -> Batch {
        precondition(!outcomes.isEmpty && outcomes.count <= Int(Seal.maxCount))
        let time = now()
        let first = lastSequence + 1
        var encoded: [[UInt8]] = []
        encoded.reserveCapacity(outcomes.count)
        var previous = self.previous
        for (i, o) in outcomes.enumerated() {
            let receipt = Receipt(
                boot: identity.bootHash, sequence: first + UInt64(i), previous: previous, requestID: o.job.requestID, tenant: o.job.tenant,
                operation: o.job.operation, requestHash: o.requestHash, resultHash: SHA.sha256(o.result), status: o.status, time: time,
                tenantRoot: o.tenantRoot, approvers: o.approvers)
            let bytes = receipt.encoded
            previous = Receipt.hash(encoded: bytes)
            encoded.append(bytes)
        }
        let (root, proofs) = MerkleTree.rootAndProofs(leafHashes: encoded.map(MerkleTree.leafHash))
        let seal = Seal(boot: identity.bootHash, first: first, count: UInt64(outcomes.count), root: root, time: time)
        return Batch(first: first, previous: previous, encoded: encoded, proofs: proofs, seal: try identity.sign(payload: seal.payload))
    }

    /// Only a signed (and, with a log, logged) batch advances the chain.
    private func advance(_ batch: Batch, _ outcomes: [Outcome], logged: DeploymentLog.Appended?) -> [Sealed] {
        previous = batch.previous
        lastSequence = batch.first + UInt64(outcomes.count) - 1
        let receipts = Self.signed(batch, logged: logged)
        return outcomes.enumerated().map { i, o in
            let signed = receipts[i]
            let response = SignedResponse(signed: signed, result: o.result)
            return Sealed(
                jobID: o.job.id, requestKey: o.job.tenant + "/" + o.job.requestID,
                result: QueueResult(
                    jobID: o.job.id, sequence: batch.first + UInt64(i), status: o.status, response: response.encoded, receipt: signed.encoded))
        }
    }

    /// Appends the receipts to the deployment log and stores its new head; nil without a log. When the stored head
    /// changed under this enclave, the batch fails and the stored head, if it is this deployment's, is the one the
    /// next batch extends.
    /// The batch's signed receipts, with their place in the log when it is logged.
    private static func signed(_ batch: Batch, logged: DeploymentLog.Appended?) -> [SignedReceipt] {
        batch.encoded.indices.map { i in
            var signed = SignedReceipt(receipt: batch.encoded[i], seal: batch.seal, proof: batch.proofs[i])
            if let logged {
                signed.index = logged.first + UInt64(i)
                signed.head = logged.head
                signed.logProof = logged.proofs[i]
            }
            return signed
        }
    }

    private func appendToLog(_ batch: Batch) async throws(DeploymentLogError) -> DeploymentLog.Appended? {
        let receipts = batch.encoded
        guard let log, let logStore, let master else { return nil }
        // No workload write lands between the state root read here and the head stored below.
        let tracker = log.state
        await tracker?.gate.hold()
        defer { tracker?.gate.release() }
        var root: [UInt8]?
        if let state = log.state {
            do { root = try await state.currentRoot() } catch {
                throw DeploymentLogError(.storeUnavailable, "the state root: \(error)", underlying: error)
            }
        }
        let appended = try log.appending(receipts.map(TreeHash.leaf), stateRoot: root)
        do {
            self.log = try await log.store(appended, batch: Self.signed(batch, logged: appended).map(\.encoded), in: logStore)
            log.state?.headStored(size: appended.log.range.size)
        } catch where error.code == .logHeadChanged {
            if var reloaded = try? await DeploymentLog.load(store: logStore, master: master) {
                reloaded.state = log.state
                // A swap whose answer was lost stored this batch's head after all: what is written next is after it.
                if reloaded.range.size > log.range.size { log.state?.headStored(size: reloaded.range.size) }
                self.log = reloaded
            }
            throw error
        }
        return appended
    }
}
