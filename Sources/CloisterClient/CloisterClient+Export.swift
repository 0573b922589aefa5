import EnclaveWire
import Foundation
import NitroAttestation
import TransparencyLog

extension CloisterClient {
    /// What an export wrote.
    public struct ExportSummary: Sendable {
        public var receipts: UInt64
        public var boots: Int
        /// The size of the deployment log's head the export was made under (nil: the host has no log).
        public var logSize: UInt64?
        /// Log indexes the host had no receipt for, marked in the file as gaps.
        public var gaps: [ClosedRange<UInt64>]
    }

    /// Streams the receipt log and the boot documents it names into `writer`, one page at a time (the caller then
    /// calls `writer.finish()`). With a deployment log, the host's newest head is read first and becomes the file's
    /// final head; then every receipt of the log below its size, in index order (`GET /v1/log/receipts`), each batch
    /// with the head its receipts carry. An index the host has no receipt for is marked as a gap in the file, never
    /// skipped (a tail missing below the head is first asked for again for up to `patience`: a batch on its way). Without a log (404), the receipts in
    /// the host's order (`GET /v1/receipts`).
    public func exportLog(into writer: AuditStreamWriter, patience: Duration = .seconds(10)) async throws(ClientError) -> ExportSummary {
        var boots = Set<[UInt8]>()
        func fileBoot(_ bytes: [UInt8]) async throws(ClientError) {
            guard let signed = try? SignedReceipt(encoded: bytes), let r = try? Receipt(encoded: signed.receipt), !boots.contains(r.boot) else { return }
            boots.insert(r.boot)
            let (status, data, _) = try await send("GET", "v1/boots/" + Hex.encode(r.boot))
            if status == 200 { try writer.addBoot(data) }
        }
        let (status, note, _) = try await send("GET", "v1/log/head")
        guard status == 200 else {
            guard status == 404 else { throw Self.httpError(status, note) }
            var after: Int64 = 0
            while true {
                let page = try await receipts(after: after)
                for e in page.entries {
                    try writer.append(index: e.index, signed: e.entry)
                    try await fileBoot(e.entry)
                }
                if page.entries.isEmpty || page.next <= after { break }
                after = page.next
            }
            return ExportSummary(receipts: writer.receipts, boots: boots.count, logSize: nil, gaps: [])
        }
        let size: UInt64
        do { size = try Checkpoint(parsing: try SignedNote(parsing: note).text).size } catch {
            throw ClientError(.malformedLog, "the host's log head is not a checkpoint: \(error)")
        }
        writer.head = note
        var gaps: [ClosedRange<UInt64>] = []
        func gap(_ from: UInt64, _ to: UInt64) throws(ClientError) {
            try writer.markGap(from: from, count: to - from)
            gaps.append(from...(to - 1))
        }
        var expected: UInt64 = 0
        let deadline = ContinuousClock.now + patience
        while expected < size {
            var page = try await logReceipts(from: expected)
            // Nothing left below the head may be a batch the enclave logged that the host is still storing: ask again
            // (a hole with receipts after it is not one: the host stores one enclave's batches in order).
            while page.entries.isEmpty, ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(200))
                page = try await logReceipts(from: expected)
            }
            let entries = page.entries.filter { UInt64($0.index) < size }
            let before = expected
            for e in entries {
                let n = UInt64(e.index)
                if n > expected { try gap(expected, n) }
                // The same index twice (a fork, or a receipt stored twice) is written twice: the verifier names it.
                try writer.append(index: e.index, signed: e.entry)
                try await fileBoot(e.entry)
                expected = max(expected, n + 1)
            }
            if expected == before { break }
        }
        if expected < size { try gap(expected, size) }
        return ExportSummary(receipts: writer.receipts, boots: boots.count, logSize: size, gaps: gaps)
    }

    /// A page of the deployment log's receipts from log index `from` (`GET /v1/log/receipts`), each entry under its
    /// log index; `next` is the index the following page starts at.
    public func logReceipts(from: UInt64, limit: Int = 1000) async throws(ClientError) -> (entries: [AuditLog.Entry], next: UInt64) {
        let (status, data, _) = try await send("GET", "v1/log/receipts?from=\(from)&limit=\(limit)")
        guard status == 200 else { throw Self.httpError(status, data) }
        return try Self.receiptPage(data, indexKey: "index")
    }
}
