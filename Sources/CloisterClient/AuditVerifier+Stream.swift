import EnclaveWire
import NitroAttestation

extension AuditVerifier {
    /// How far a streamed verification has got.
    public struct Progress: Sendable {
        /// Receipts read so far.
        public var receipts: UInt64
        /// Bytes of the file read so far.
        public var bytes: Int
    }

    /// A failure and the log index of the entry it is about.
    struct Failure: Error {
        var error: ClientError
        var index: Int64?
        init(_ error: ClientError, _ index: Int64?) {
            self.error = error
            self.index = index
        }
    }

    /// A receipt missing at the point where a later one came: a gap, unless the missing one appears further on
    /// (then a reorder). Deciding needs the rest of the file, but only this much memory.
    struct PendingGap {
        var boot: [UInt8]
        var expected: UInt64
        var error: ClientError
        var index: Int64
    }

    /// Verifies a binary log as it is read, holding one batch at a time: each batch's seal signature once, the
    /// batch's Merkle root recomputed from its receipts and compared with the sealed one, then the chain, with the
    /// same checks and failure codes as `verify(_:)`. Differences that streaming brings: `verified` counts receipts
    /// of whole batches (and those before a broken link), an edited receipt is named at its batch's first entry, and
    /// a batch record that holds fewer receipts than its seal covers is a gap (its root cannot be checked). A file
    /// that is not well formed fails with `malformedLog` or `truncatedLog`, whatever the receipts before it.
    ///
    /// Batches of the deployment log (`AuditBatch.head`) also rebuild the log in a compact range: their indexes run
    /// on from 0 with none skipped (`receiptMissing`, also for a gap the exporter marked) or repeated
    /// (`duplicateIndex`), each head verifies with the deployment key (`logProofInvalid`), never shrinks or disagrees
    /// with one before it (`logForked`), and is the log of the receipts up to where its batch ends
    /// (`logHeadMismatch`); after a batch of the log every batch must be one (`logHeadMissing`); the file's final
    /// head must cover every receipt of the log (`receiptMissing` for a cut tail). Last, a request id of a tenant
    /// that ran as two signed actions is `duplicateRequest`, found by an external sort (`RepeatedActionFinder`).
    /// `progress` is called after each batch.
    public func verify(_ reader: AuditStreamReader, progress: (Progress) -> Void = { _ in }) -> Report {
        var chains: [[UInt8]: Chain] = [:]
        var report = Report(verified: 0, boots: [], failure: nil, failureIndex: nil)
        var pending: PendingGap?
        var lastIndex: Int64?
        var log = AuditLogReplay(seen: seenHeads, witnesses: witnesses, quorum: witnessQuorum)
        let actions = RepeatedActionFinder()
        do {
            while let record = try reader.next() {
                guard case .batch(let batch) = record else {
                    if pending == nil, case .gap(let from, let count) = record { throw log.gap(from: from, count: count) }
                    continue
                }
                lastIndex = batch.entries.last?.index
                if let gap = pending {
                    for e in batch.entries {
                        if let r = try? Receipt(encoded: e.receipt), r.boot == gap.boot, r.sequence == gap.expected {
                            let hex = Hex.encode(gap.boot).prefix(16)
                            throw Failure(ClientError(.reorder, "boot \(hex)…: receipt \(gap.expected) comes after a later one"), gap.index)
                        }
                    }
                } else {
                    let first = batch.entries[0].index
                    if batch.head != nil {
                        try log.checkIndexes(batch)
                    } else if log.started {
                        throw Failure(ClientError(.logHeadMissing, "entry \(first) is outside the deployment log, after receipts of the log"), first)
                    }
                    let leaves = batch.entries.map { MerkleTree.leafHash($0.receipt) }
                    var counted = 0
                    do { pending = try verifyBatch(batch, leaves: leaves, boots: reader.header.boots, &chains, verified: &counted, actions: actions) } catch {
                        report.verified += counted
                        throw error
                    }
                    if pending == nil, let head = batch.head {
                        try log.append(leaves: leaves, head: head, deployment: logDeployment(chains), firstIndex: first)
                    }
                    report.verified += counted
                }
                progress(Progress(receipts: reader.receipts, bytes: reader.offset))
            }
            if let gap = pending { throw Failure(gap.error, gap.index) }
            report.log = try log.finish(head: reader.header.head, deployment: logDeployment(chains))
            report.actions = actions.count
            try checkRepeats(actions) { (wanted: Set<Int64>) throws(ClientError) -> [Int64: Receipt] in
                try Self.receipts(at: wanted, in: try reader.reopened())
            }
        } catch let failure as Failure {
            report.failure = failure.error
            report.failureIndex = failure.index
        } catch let error as ClientError {
            report.failure = error
            report.failureIndex = lastIndex
        } catch {
            report.failure = ClientError(.malformedLog, "\(error)")
        }
        report.boots = Self.boots(chains)
        return report
    }

    /// The commitment the log's heads are signed by: the pinned one, else the log's first boot's.
    func logDeployment(_ chains: [[UInt8]: Chain]) -> [UInt8]? {
        deployment ?? chains.values.first { $0.order == 0 }?.identity.deployment
    }

    /// Fails with `duplicateRequest` if a request id ran as two signed actions, naming it from the receipts at the
    /// two indexes (`lookUp` reads them again: only on failure).
    func checkRepeats(_ actions: RepeatedActionFinder, lookUp: (Set<Int64>) throws(ClientError) -> [Int64: Receipt]) throws(Failure) {
        let found: (first: RepeatedActionFinder.Repeat?, total: Int)
        do { found = try actions.repeats() } catch { throw Failure(error, nil) }
        guard let pair = found.first else { return }
        let named = (try? lookUp([pair.first, pair.second])) ?? [:]
        let who = named[pair.second].map { "request \($0.requestID) of tenant \($0.tenant)" } ?? "a request id"
        func entry(_ i: Int64) -> String { "entry \(i)" + (named[i].map { " (\($0.operation), boot \(Hex.encode($0.boot).prefix(16))… receipt \($0.sequence))" } ?? "") }
        let others = found.total > 1 ? "; \(found.total - 1) other request id\(found.total > 2 ? "s" : "") also ran more than once" : ""
        throw Failure(ClientError(.duplicateRequest, "\(who) ran as two signed actions: \(entry(pair.first)) and \(entry(pair.second))\(others)"), pair.second)
    }

    /// The receipts at entry indexes `wanted`, read from the file again.
    static func receipts(at wanted: Set<Int64>, in reader: AuditStreamReader) throws(ClientError) -> [Int64: Receipt] {
        var found: [Int64: Receipt] = [:]
        while found.count < wanted.count, let record = try reader.next() {
            for e in record.batch?.entries ?? [] where wanted.contains(e.index) { found[e.index] = try? Receipt(encoded: e.receipt) }
        }
        return found
    }

    /// Checks one batch record; returns a gap whose verdict needs the rest of the file.
    private func verifyBatch(
        _ batch: AuditBatch, leaves: [[UInt8]], boots: [String: [UInt8]], _ chains: inout [[UInt8]: Chain], verified: inout Int,
        actions: RepeatedActionFinder
    ) throws(Failure) -> PendingGap? {
        let firstIndex = batch.entries[0].index
        let (seal, envelope) = try Self.parseSeal(batch.seal, index: firstIndex)
        let bootHex = Hex.encode(seal.boot).prefix(16)
        if chains[seal.boot] == nil {
            do {
                let identity = try adopt(seal.boot, boots: boots, first: chains.values.first { $0.order == 0 }?.identity)
                chains[seal.boot] = Chain(identity: identity, order: chains.count)
            } catch { throw Failure(error, firstIndex) }
        }
        var chain = chains[seal.boot]!
        guard chain.identity.key.verify(envelope) else {
            throw Failure(
                ClientError(.signatureInvalid, "the batch of boot \(bootHex)… sealing receipts \(seal.first)… is sealed by a key that boot's attestation does not bind"),
                firstIndex)
        }
        var receipts: [Receipt] = []
        receipts.reserveCapacity(batch.entries.count)
        var expected = chain.last + 1
        for (j, e) in batch.entries.enumerated() {
            let receipt: Receipt
            do { receipt = try Receipt(encoded: e.receipt) } catch { throw Failure(ClientError(.malformedResponse, "entry \(e.index): receipt: \(error)"), e.index) }
            guard receipt.boot == seal.boot, seal.covers(receipt.sequence) else {
                throw Failure(ClientError(.sealMismatch, "receipt \(receipt.sequence) is not under its batch's seal (boot or range differ)"), e.index)
            }
            if receipt.sequence < expected {
                throw Failure(ClientError(.reorder, "boot \(bootHex)…: receipt \(receipt.sequence) comes after receipt \(expected - 1)"), e.index)
            }
            if receipt.sequence > expected {
                let missing = expected
                let early = ClientError(.reorder, "boot \(bootHex)…: receipt \(receipt.sequence) comes before receipt \(missing)")
                if batch.entries[(j + 1)...].contains(where: { (try? Receipt(encoded: $0.receipt))?.sequence == missing }) { throw Failure(early, e.index) }
                let many = receipt.sequence - missing > 1
                let gap = ClientError(.gap, "boot \(bootHex)…: receipt\(many ? "s" : "") \(missing)\(many ? "…\(receipt.sequence - 1)" : "") missing before \(receipt.sequence)")
                return PendingGap(boot: seal.boot, expected: missing, error: gap, index: e.index)
            }
            expected += 1
            receipts.append(receipt)
        }
        guard receipts[0].sequence == seal.first else {
            throw Failure(ClientError(.sealMismatch, "the batch record starts at receipt \(receipts[0].sequence), its seal at \(seal.first)"), firstIndex)
        }
        if UInt64(receipts.count) < seal.count {
            let from = seal.first + UInt64(receipts.count)
            let last = seal.first + seal.count - 1
            let gap = ClientError(.gap, "boot \(bootHex)…: receipts \(from)…\(last), sealed with the ones before them, are missing")
            guard batch.head != nil else { return PendingGap(boot: seal.boot, expected: from, error: gap, index: batch.entries.last!.index) }
            // A batch of the log is one append: the receipts its seal covers beyond the record had the next indexes.
            let next = batch.entries.last!.index + 1
            let missing = ClientError(
                .receiptMissing, "log entries \(next)…\(next + Int64(last - from)) (boot \(bootHex)… receipts \(from)…\(last), sealed with the ones before them) are not in the export")
            return PendingGap(boot: seal.boot, expected: from, error: missing, index: next)
        }
        guard MerkleTree.root(leafHashes: leaves) == seal.root else {
            throw Failure(
                ClientError(.proofInvalid, "boot \(bootHex)…: receipts \(seal.first)…\(seal.first + seal.count - 1) are not the ones their seal signed (one was edited)"),
                firstIndex)
        }
        for (j, receipt) in receipts.enumerated() {
            guard receipt.previous == chain.lastHash else {
                chains[seal.boot] = chain
                verified += j
                throw Failure(
                    ClientError(.chainBroken, "boot \(bootHex)…: receipt \(receipt.sequence) does not name the hash of receipt \(chain.last)"), batch.entries[j].index)
            }
            chain.last = receipt.sequence
            chain.lastHash = Receipt.hash(encoded: batch.entries[j].receipt)
            if receipt.approvers != nil, receipt.status == "ok" {
                do { try actions.add(tenant: receipt.tenant, requestID: receipt.requestID, index: batch.entries[j].index) } catch {
                    throw Failure(error, batch.entries[j].index)
                }
            }
        }
        chains[seal.boot] = chain
        verified += receipts.count
        return nil
    }

    private static func parseSeal(_ bytes: [UInt8], index: Int64) throws(Failure) -> (Seal, COSESign1) {
        do {
            let envelope = try COSESign1(try CBORDecoderBridge.decode(bytes))
            return (try Seal(payload: envelope.payload), envelope)
        } catch { throw Failure(ClientError(.malformedResponse, "entry \(index): seal: \(error)"), index) }
    }
}
