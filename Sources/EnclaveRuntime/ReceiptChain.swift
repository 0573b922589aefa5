import EnclaveWire
import NitroAttestation
import VsockBridge

/// The receipt chain of this boot. Each batch of finished jobs becomes consecutive receipts linked by hash,
/// sealed with one signature over their Merkle root. Not thread-safe: the queue worker owns it. (Public so that
/// the audit benchmark builds its logs with the enclave's own code.)
public final class ReceiptChain {
    /// One finished job, before it is receipted.
    public struct Outcome {
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
    public struct Sealed {
        public var jobID: UInt64
        public var requestKey: String
        public var result: QueueResult
    }

    public let identity: EnclaveIdentity
    public private(set) var lastSequence: UInt64 = 0
    private var previous = Receipt.genesis
    private let now: () -> UInt64

    public init(identity: EnclaveIdentity, now: @escaping () -> UInt64 = { UInt64(WallClock.milliseconds()) }) {
        self.identity = identity
        self.now = now
    }

    /// Receipts `outcomes` in order and seals them with one signature.
    public func seal(_ outcomes: [Outcome]) throws -> [Sealed] {
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
        let sealBytes = try identity.sign(payload: seal.payload)
        // Only a signed batch advances the chain.
        self.previous = previous
        lastSequence = first + UInt64(outcomes.count) - 1
        return outcomes.enumerated().map { i, o in
            let signed = SignedReceipt(receipt: encoded[i], seal: sealBytes, proof: proofs[i])
            let response = SignedResponse(signed: signed, result: o.result)
            return Sealed(
                jobID: o.job.id, requestKey: o.job.tenant + "/" + o.job.requestID,
                result: QueueResult(jobID: o.job.id, sequence: first + UInt64(i), status: o.status, response: response.encoded, receipt: signed.encoded))
        }
    }
}
