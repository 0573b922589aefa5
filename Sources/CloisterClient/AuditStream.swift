import CBOR
import EnclaveWire
import NitroAttestation

/// The streaming binary form of a receipt log (`cloister-audit-cbor/2`): a CBOR sequence (RFC 8742) structured by
/// sealed batch, carrying the deployment log's heads, so that a log of any length is written and verified holding
/// one batch at a time.
///
/// Items, in this order, each in deterministic CBOR (shortest heads, definite lengths):
/// - the header, a map with text keys in this order: `format` tstr (`cloister-audit-cbor/2`), `source` tstr,
///   optionally `receipts` uint (how many receipts follow, for progress), optionally `head` bstr (the deployment
///   log's signed checkpoint when the export began: the final head, which every receipt of the log up to its size
///   must be exported under), `boots` [bstr ...] (the boot attestation documents the log names; each is filed under
///   its own SHA-256);
/// - records, each an array whose first item is the record's kind (tstr):
///   - `["batch", seal bstr, [[n uint, receipt bstr], ...], head bstr]`: one seal (COSE_Sign1, as the enclave signed
///     it), the receipts it covers in order, each with its index `n` in the deployment log, and the signed
///     checkpoint after the batch (the `head` its receipts carry); no Merkle proofs: the verifier recomputes the
///     sealed root and rebuilds the log from the receipts;
///   - `["batch", seal bstr, [[n uint, receipt bstr], ...]]`: a batch outside any deployment log (an enclave
///     without a master secret, or a build before the log), `n` the host's number;
///   - `["gap", from uint, count uint]`: the host had no receipt at log indexes `from ..< from + count` when the log
///     was exported (the exporter marks what it could not find rather than skip it);
///   - `["end", receipts uint, batches uint]`: the last item, so that a file cut at a record boundary is told from a
///     whole one.
///
/// Version 1 (`cloister-audit-cbor/1`: no `head`, no gap records, batches of three items) is still read. A reader
/// refuses a kind it does not know.
public enum AuditStream {
    public static let format = "cloister-audit-cbor/2"
    /// The first version, without the deployment log; read, never written.
    public static let formatVersion1 = "cloister-audit-cbor/1"
    /// Longest `source` read.
    public static let maxSourceBytes = 4096
    /// Most boot documents one header carries.
    public static let maxBoots = 4096
    /// Largest host or log index read (as the JSON form: below 2^53).
    public static let maxIndex: UInt64 = 1 << 53
    /// Longest record kind read.
    static let maxKindBytes = 32

    /// Whether `bytes` (a file's first bytes) look like the binary form rather than JSON: the header is a CBOR map.
    public static func isBinary(prefix bytes: some Collection<UInt8>) -> Bool {
        guard let b = bytes.first else { return false }
        return b >> 5 == 5
    }

    /// The record of `batch`, as a file holds it; `malformedLog` for a batch no reader accepts.
    public static func encode(_ batch: AuditBatch) throws(ClientError) -> [UInt8] {
        guard !batch.entries.isEmpty, batch.entries.count <= Int(Seal.maxCount), batch.seal.count <= Seal.maxSize,
            (batch.head?.count ?? 0) <= SignedReceipt.maxHead
        else {
            throw ClientError(
                .malformedLog, "a batch holds 1 to \(Seal.maxCount) receipts under a seal of at most \(Seal.maxSize) bytes and a head of at most \(SignedReceipt.maxHead)")
        }
        var out: [UInt8] = []
        out.reserveCapacity(batch.seal.count + batch.entries.count * 320 + (batch.head?.count ?? 0) + 32)
        CBOREncoder.appendHead(major: 4, batch.head == nil ? 3 : 4, to: &out)
        CBOREncoder.append(.text("batch"), to: &out)
        CBOREncoder.appendHead(major: 2, UInt64(batch.seal.count), to: &out)
        out += batch.seal
        CBOREncoder.appendHead(major: 4, UInt64(batch.entries.count), to: &out)
        for e in batch.entries {
            guard e.index >= 0, UInt64(e.index) < maxIndex, e.receipt.count <= Receipt.maxSize else {
                throw ClientError(.malformedLog, "entry \(e.index): index or receipt size out of range")
            }
            CBOREncoder.appendHead(major: 4, 2, to: &out)
            CBOREncoder.appendHead(major: 0, UInt64(e.index), to: &out)
            CBOREncoder.appendHead(major: 2, UInt64(e.receipt.count), to: &out)
            out += e.receipt
        }
        if let head = batch.head {
            CBOREncoder.appendHead(major: 2, UInt64(head.count), to: &out)
            out += head
        }
        return out
    }

    /// The record of a gap of `count` log indexes from `from`.
    public static func encodeGap(from: UInt64, count: UInt64) throws(ClientError) -> [UInt8] {
        guard count >= 1, from < maxIndex, count <= maxIndex - from else {
            throw ClientError(.malformedLog, "a gap covers 1 or more indexes below 2^53")
        }
        return CBOREncoder.encode(.array([.text("gap"), .unsigned(from), .unsigned(count)]))
    }
}

/// One sealed batch as the binary form stores it: the seal once, then the receipts it covers, and the deployment
/// log's head after it.
public struct AuditBatch: Sendable, Hashable {
    public struct Entry: Sendable, Hashable {
        /// The receipt's index in the deployment log (for a batch outside it, the host's number).
        public var index: Int64
        /// The encoded receipt (`Receipt`), as the enclave sealed it.
        public var receipt: [UInt8]
        public init(index: Int64, receipt: [UInt8]) {
            self.index = index
            self.receipt = receipt
        }
    }

    /// The seal (COSE_Sign1 bytes).
    public var seal: [UInt8]
    public var entries: [Entry]
    /// The signed checkpoint of the deployment log after this batch (nil: a batch outside the log).
    public var head: [UInt8]?

    public init(seal: [UInt8], entries: [Entry], head: [UInt8]? = nil) {
        self.seal = seal
        self.entries = entries
        self.head = head
    }
}

/// One record of the binary form after its header.
public enum AuditRecord: Sendable, Hashable {
    case batch(AuditBatch)
    /// Log indexes `from ..< from + count` the host did not have when the log was exported.
    case gap(from: UInt64, count: UInt64)

    /// The batch, if this record is one.
    public var batch: AuditBatch? {
        if case .batch(let b) = self { return b }
        return nil
    }
}
