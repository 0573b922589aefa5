import NitroAttestation
import TransparencyLog

/// The deployment log rebuilt from an export's receipts in index order, holding only its compact range and the
/// newest head: every index from 0 once, every head signed by the deployment key and the root of the receipts up
/// to its size, heads that never shrink or disagree, and a final head that covers every receipt.
struct AuditLogReplay {
    typealias Failure = AuditVerifier.Failure

    private(set) var range = CompactRange()
    /// The largest head verified so far.
    private(set) var newest: Checkpoint?
    /// Whether a batch of the log has been read (after one, every batch must be of the log).
    private(set) var started = false
    /// The heads' verifier, made for the first head's deployment.
    private var verifier: (deployment: [UInt8], verifier: CheckpointVerifier)?
    /// Heads seen elsewhere, as given (signed notes), checked once the deployment is known.
    private let seenNotes: [[UInt8]]
    /// Those heads, verified and ordered by size, not yet met by the export: (checkpoint, witnesses that cosigned it).
    private var seen: [(Checkpoint, [String])]?
    private let witnesses: [NoteVerifierKey]
    private let quorum: Int
    /// Pinned witnesses that cosigned a head the export holds.
    private(set) var witnessed: Set<String> = []

    init(seen: [[UInt8]] = [], witnesses: [NoteVerifierKey] = [], quorum: Int = 0) {
        seenNotes = seen
        self.witnesses = witnesses
        self.quorum = quorum
    }

    /// The next log index the export must hold.
    var expected: UInt64 { range.size }

    /// Checks that `batch`'s entries are the log's next indexes, in order, each once.
    func checkIndexes(_ batch: AuditBatch) throws(Failure) {
        for (j, e) in batch.entries.enumerated() {
            let expected = range.size + UInt64(j)
            let n = UInt64(e.index)
            if n > expected {
                let many = n - expected > 1
                throw Failure(
                    ClientError(
                        .receiptMissing, "log entr\(many ? "ies" : "y") \(expected)\(many ? "…\(n - 1)" : "") \(many ? "are" : "is") not in the export (the next one is \(n))"),
                    Int64(expected))
            }
            if n < expected {
                throw Failure(ClientError(.duplicateIndex, "log entry \(n) comes again after entry \(expected - 1)"), e.index)
            }
        }
    }

    /// A gap the exporter marked: the receipts were not on the host.
    func gap(from: UInt64, count: UInt64) -> Failure {
        let last = from + count - 1
        return Failure(
            ClientError(.receiptMissing, "log entr\(count > 1 ? "ies \(from)…\(last) were" : "y \(from) was") not on the host when the log was exported (a gap the export marks)"),
            Int64(from))
    }

    /// Appends a checked batch's leaves and checks the head after it.
    mutating func append(leaves: [[UInt8]], head note: [UInt8], deployment: [UInt8]?, firstIndex: Int64) throws(Failure) {
        started = true
        do {
            for leaf in leaves { try range.append(leaf) }
        } catch { throw Failure(ClientError(.malformedLog, "the log cannot grow: \(error)"), firstIndex) }
        let head = try verify(note, deployment: deployment, what: "the head after log entries \(firstIndex)…", at: firstIndex)
        guard head.size == range.size else {
            throw Failure(
                ClientError(.logHeadMismatch, "the head after log entries \(firstIndex)…\(range.size - 1) covers \(head.size) receipts, not \(range.size)"), firstIndex)
        }
        guard head.rootHash == range.root else {
            throw Failure(
                ClientError(.logHeadMismatch, "the head of \(head.size) receipts signs another root than the export's receipts 0…\(range.size - 1) make"),
                firstIndex)
        }
        newest = head
        try meetSeen(deployment: deployment, at: firstIndex)
    }

    /// Verifies the heads seen elsewhere (once), then checks each the log has now reached: a head of this size must
    /// have this root; one the log passed without a batch ending at its size is of another log.
    private mutating func meetSeen(deployment: [UInt8]?, at index: Int64?) throws(Failure) {
        if seen == nil {
            guard let deployment else { return }
            var heads: [(Checkpoint, [String])] = []
            for (i, note) in seenNotes.enumerated() {
                do {
                    let origin = LogHead.origin(deployment: deployment)
                    let v = try CheckpointVerifier(
                        origin: origin, logKey: NoteVerifierKey(name: origin, type: .ed25519, publicKey: deployment), witnesses: witnesses)
                    let verified = try v.verify(note)
                    heads.append((verified.checkpoint, verified.cosignatures.map(\.key.name)))
                } catch {
                    throw Failure(ClientError(.logProofInvalid, "head \(i + 1) seen elsewhere is not a head of this deployment's log: \(error)"), nil)
                }
            }
            seen = heads.sorted { $0.0.size < $1.0.size }
        }
        while let (head, cosigners) = seen?.first, head.size <= range.size {
            seen?.removeFirst()
            guard head.size == range.size, head.rootHash == range.root else {
                throw Failure(
                    ClientError(.logForked, "a head of \(head.size) receipts seen elsewhere is not the log this export holds: the host showed another log"),
                    index)
            }
            witnessed.formUnion(cosigners)
        }
    }

    /// Checks the final head: it must be present once the log was seen, and cover exactly the receipts exported.
    mutating func finish(head note: [UInt8]?, deployment: [UInt8]?) throws(Failure) -> Checkpoint? {
        guard let note else {
            guard !started else {
                throw Failure(ClientError(.logHeadMissing, "the export has batches of the log but no final head: its tail cannot be checked"), nil)
            }
            return nil
        }
        let head = try verify(note, deployment: deployment, what: "the final head", at: nil)
        if head.size > range.size {
            let many = head.size - range.size > 1
            throw Failure(
                ClientError(
                    .receiptMissing,
                    "the final head covers \(head.size) receipts; log entr\(many ? "ies" : "y") \(range.size)\(many ? "…\(head.size - 1)" : "") \(many ? "are" : "is") not in the export"),
                Int64(range.size))
        }
        guard head.size == range.size, head.rootHash == range.root else {
            throw Failure(ClientError(.logHeadMismatch, "the final head of \(head.size) receipts is not the log the export's \(range.size) receipts make"), nil)
        }
        newest = head
        try meetSeen(deployment: deployment, at: nil)
        if let beyond = seen?.last {
            throw Failure(
                ClientError(
                    .receiptMissing,
                    "a head of \(beyond.0.size) receipts was seen elsewhere, but the export stops at \(range.size): its tail was cut (log entries \(range.size)…\(beyond.0.size - 1))"),
                Int64(range.size))
        }
        if witnessed.count < quorum {
            throw Failure(
                ClientError(.witnessQuorumMissing, "\(witnessed.count) of the \(quorum) pinned witnesses required cosigned a head this export holds"), nil)
        }
        return head
    }

    /// The checkpoint in `note`, signed by the deployment key and consistent with every head before it.
    private mutating func verify(_ note: [UInt8], deployment: [UInt8]?, what: String, at index: Int64?) throws(Failure) -> Checkpoint {
        guard let deployment else {
            throw Failure(ClientError(.logProofInvalid, "\(what) is a log head, but the log's boots carry no deployment commitment"), index)
        }
        let head: Checkpoint
        do {
            if verifier?.deployment != deployment { verifier = (deployment, try LogHead.verifier(deployment: deployment)) }
            head = try LogHead.verify(note, with: verifier!.verifier, deployment: deployment).checkpoint
        } catch {
            throw Failure(ClientError(.logProofInvalid, "\(what): \(error.message)"), index)
        }
        if let newest, head.size < newest.size || (head.size == newest.size && head.rootHash != newest.rootHash) {
            let how = head.size < newest.size ? "covers \(head.size) receipts, fewer than the head of \(newest.size) before it" : "signs another root than the head of the same size before it"
            throw Failure(ClientError(.logForked, "\(what) \(how)"), index)
        }
        return head
    }
}
