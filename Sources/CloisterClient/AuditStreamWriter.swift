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

    /// Appends one log entry (a `SignedReceipt`); consecutive entries under the same seal form one batch record.
    public func append(index: Int64, signed bytes: [UInt8]) throws(ClientError) {
        let signed: SignedReceipt
        do { signed = try SignedReceipt(encoded: bytes) } catch { throw ClientError(.malformedResponse, "entry \(index): \(error)") }
        let entry = AuditBatch.Entry(index: index, receipt: signed.receipt)
        if pending?.seal == signed.seal, pending!.entries.count < Int(Seal.maxCount) {
            pending!.entries.append(entry)
        } else {
            try flushPending()
            pending = AuditBatch(seal: signed.seal, entries: [entry])
        }
    }

    /// Appends a whole batch record.
    public func append(_ batch: AuditBatch) throws(ClientError) {
        try flushPending()
        try write(batch)
    }

    private func flushPending() throws(ClientError) {
        guard let batch = pending else { return }
        pending = nil
        try write(batch)
    }

    private func write(_ batch: AuditBatch) throws(ClientError) {
        guard !batch.entries.isEmpty, batch.entries.count <= Int(Seal.maxCount), batch.seal.count <= Seal.maxSize else {
            throw ClientError(.malformedLog, "a batch holds 1 to \(Seal.maxCount) receipts under a seal of at most \(Seal.maxSize) bytes")
        }
        var out: [UInt8] = []
        out.reserveCapacity(batch.seal.count + batch.entries.count * 320 + 32)
        CBOREncoder.appendHead(major: 4, 3, to: &out)
        CBOREncoder.append(.text("batch"), to: &out)
        CBOREncoder.appendHead(major: 2, UInt64(batch.seal.count), to: &out)
        out += batch.seal
        CBOREncoder.appendHead(major: 4, UInt64(batch.entries.count), to: &out)
        for e in batch.entries {
            guard e.index >= 0, UInt64(e.index) < AuditStream.maxIndex, e.receipt.count <= Receipt.maxSize else {
                throw ClientError(.malformedLog, "entry \(e.index): index or receipt size out of range")
            }
            CBOREncoder.appendHead(major: 4, 2, to: &out)
            CBOREncoder.appendHead(major: 0, UInt64(e.index), to: &out)
            CBOREncoder.appendHead(major: 2, UInt64(e.receipt.count), to: &out)
            out += e.receipt
        }
        try spool.write(out)
        writtenReceipts += UInt64(batch.entries.count)
        writtenBatches += 1
    }

    /// Writes the file; the writer is spent afterwards.
    public func finish() throws(ClientError) {
        try flushPending()
        try spool.close()
        var header: CBORMap = ["format": .text(AuditStream.format), "source": .text(source)]
        header[.text("receipts")] = .unsigned(receipts)
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
