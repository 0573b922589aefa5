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
    /// `progress` is called after each batch.
    public func verify(_ reader: AuditStreamReader, progress: (Progress) -> Void = { _ in }) -> Report {
        var chains: [[UInt8]: Chain] = [:]
        var report = Report(verified: 0, boots: [], failure: nil, failureIndex: nil)
        var pending: PendingGap?
        var lastIndex: Int64?
        do {
            while let batch = try reader.next() {
                lastIndex = batch.entries.last?.index
                if let gap = pending {
                    for e in batch.entries {
                        if let r = try? Receipt(encoded: e.receipt), r.boot == gap.boot, r.sequence == gap.expected {
                            let hex = Hex.encode(gap.boot).prefix(16)
                            throw Failure(ClientError(.reorder, "boot \(hex)…: receipt \(gap.expected) comes after a later one"), gap.index)
                        }
                    }
                } else {
                    pending = try verifyBatch(batch, boots: reader.header.boots, &chains, verified: &report.verified)
                }
                progress(Progress(receipts: reader.receipts, bytes: reader.offset))
            }
            if let gap = pending { throw Failure(gap.error, gap.index) }
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

    /// Checks one batch record; returns a gap whose verdict needs the rest of the file.
    private func verifyBatch(_ batch: AuditBatch, boots: [String: [UInt8]], _ chains: inout [[UInt8]: Chain], verified: inout Int) throws(Failure)
        -> PendingGap?
    {
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
            return PendingGap(boot: seal.boot, expected: from, error: gap, index: batch.entries.last!.index)
        }
        guard MerkleTree.root(leafHashes: batch.entries.map { MerkleTree.leafHash($0.receipt) }) == seal.root else {
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
