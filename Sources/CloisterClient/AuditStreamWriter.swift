import CBOR
import EnclaveWire
import Foundation
import NitroAttestation

/// Writes the binary form (`AuditStream`) holding one batch at a time. Batches go to a spool file beside `path`
/// while boot documents may still be added; `finish()` writes the header, the batches and the end record to `path`
/// (atomically: by rename) and removes the spool.
public final class AuditStreamWriter {
    public let path: String
    public let source: String
    /// The deployment log's signed checkpoint the export was made under (the header's `head`); nil: no log.
    public var head: [UInt8]?
    private var boots: [[UInt8]: [UInt8]] = [:]
    private var bootOrder: [[UInt8]] = []
    private var spool: FileSink
    private var pending: AuditBatch?
    private var writtenReceipts: UInt64 = 0
    private var writtenBatches: UInt64 = 0
    /// Receipts appended so far.
    public var receipts: UInt64 { writtenReceipts + UInt64(pending?.entries.count ?? 0) }
    /// Batch records appended so far (the last one may still grow).
    public var batches: UInt64 { writtenBatches + (pending == nil ? 0 : 1) }
    /// Gap records written so far, and the log indexes they cover.
    public private(set) var gaps: [(from: UInt64, count: UInt64)] = []

    public init(path: String, source: String) throws(ClientError) {
        guard source.utf8.count <= AuditStream.maxSourceBytes else { throw ClientError(.malformedLog, "the source is longer than \(AuditStream.maxSourceBytes) bytes") }
        self.path = path
        self.source = source
        spool = try FileSink(path: path + ".spool")
    }

    deinit { spool.discard() }

    /// Files a boot document (kept once, under its SHA-256).
    public func addBoot(_ document: [UInt8]) throws(ClientError) {
        guard document.count <= AttestationVerifier.maxDocumentSize else {
            throw ClientError(.malformedLog, "a boot document is larger than \(AttestationVerifier.maxDocumentSize) bytes")
        }
        let hash = SHA.sha256(document)
        guard boots[hash] == nil else { return }
        guard boots.count < AuditStream.maxBoots else { throw ClientError(.malformedLog, "more than \(AuditStream.maxBoots) boots") }
        boots[hash] = document
        bootOrder.append(hash)
    }

    /// Appends one log entry (a `SignedReceipt`); consecutive entries under the same seal and head form one batch
    /// record. A receipt of the deployment log is filed under its log index `n`, with the head it carries; one
    /// outside it under `index` (the host's number).
    public func append(index: Int64, signed bytes: [UInt8]) throws(ClientError) {
        let signed: SignedReceipt
        do { signed = try SignedReceipt(encoded: bytes) } catch { throw ClientError(.malformedResponse, "entry \(index): \(error)") }
        var filed = index
        if let n = signed.index {
            guard n < AuditStream.maxIndex else { throw ClientError(.malformedResponse, "entry \(index): log index \(n) is out of range") }
            filed = Int64(n)
        }
        let entry = AuditBatch.Entry(index: filed, receipt: signed.receipt)
        if let batch = pending, batch.seal == signed.seal, batch.head == signed.head, batch.entries.count < Int(Seal.maxCount) {
            pending!.entries.append(entry)
        } else {
            try flushPending()
            pending = AuditBatch(seal: signed.seal, entries: [entry], head: signed.head)
        }
    }

    /// Appends a whole batch record.
    public func append(_ batch: AuditBatch) throws(ClientError) {
        try flushPending()
        try write(batch)
    }

    /// Marks log indexes `from ..< from + count` as missing from the host: a gap record.
    public func markGap(from: UInt64, count: UInt64) throws(ClientError) {
        try flushPending()
        try spool.write(try AuditStream.encodeGap(from: from, count: count))
        gaps.append((from, count))
    }

    private func flushPending() throws(ClientError) {
        guard let batch = pending else { return }
        pending = nil
        try write(batch)
    }

    private func write(_ batch: AuditBatch) throws(ClientError) {
        try spool.write(try AuditStream.encode(batch))
        writtenReceipts += UInt64(batch.entries.count)
        writtenBatches += 1
    }

    /// Writes the file; the writer is spent afterwards.
    public func finish() throws(ClientError) {
        try flushPending()
        try spool.close()
        guard (head?.count ?? 0) <= SignedReceipt.maxHead else { throw ClientError(.malformedLog, "the head is larger than \(SignedReceipt.maxHead) bytes") }
        var header: CBORMap = ["format": .text(AuditStream.format), "source": .text(source)]
        header[.text("receipts")] = .unsigned(receipts)
        if let head { header[.text("head")] = .bytes(head) }
        header[.text("boots")] = .array(bootOrder.map { .bytes(boots[$0]!) })
        let temporary = path + ".partial"
        var out = try FileSink(path: temporary)
        do {
            try out.write(CBOREncoder.encode(.map(header)))
            try out.copy(from: spool.path)
            try out.write(CBOREncoder.encode(.array([.text("end"), .unsigned(receipts), .unsigned(batches)])))
            try out.close()
        } catch {
            out.discard()
            throw error
        }
        spool.discard()
        guard rename(temporary, path) == 0 else { throw ClientError(.malformedLog, "cannot rename \(temporary) to \(path): errno \(errno)") }
    }
}

/// A file written through a buffer, with POSIX calls.
struct FileSink {
    let path: String
    private var fd: Int32
    private var buffer: [UInt8] = []
    private static let bufferSize = 1 << 20

    init(path: String) throws(ClientError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ClientError(.malformedLog, "cannot create \(path): errno \(errno)") }
        buffer.reserveCapacity(Self.bufferSize)
    }

    mutating func write(_ bytes: [UInt8]) throws(ClientError) {
        buffer += bytes
        if buffer.count >= Self.bufferSize { try flush() }
    }

    mutating func flush() throws(ClientError) {
        var done = 0
        while done < buffer.count {
            let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            guard n > 0 else { throw ClientError(.malformedLog, "cannot write \(path): errno \(errno)") }
            done += n
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Appends the whole of the file at `source`.
    mutating func copy(from source: String) throws(ClientError) {
        try flush()
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw ClientError(.malformedLog, "cannot read \(source): errno \(errno)") }
        defer { Glibc.close(input) }
        var chunk = [UInt8](repeating: 0, count: Self.bufferSize)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(input, $0.baseAddress!, $0.count) }
            guard n >= 0 else { throw ClientError(.malformedLog, "cannot read \(source): errno \(errno)") }
            if n == 0 { break }
            buffer += chunk[0..<n]
            try flush()
        }
    }

    mutating func close() throws(ClientError) {
        guard fd >= 0 else { return }
        try flush()
        let ok = fsync(fd) == 0
        Glibc.close(fd)
        fd = -1
        guard ok else { throw ClientError(.malformedLog, "cannot sync \(path): errno \(errno)") }
    }

    /// Closes without flushing and removes the file.
    func discard() {
        if fd >= 0 { Glibc.close(fd) }
        unlink(path)
    }
}
