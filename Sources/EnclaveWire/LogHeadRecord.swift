import CBOR

/// The deployment log's state as the enclave keeps it in the host's store (`LogHeadRecord.storeKey`): the compact
/// range of the log (its size and the roots of its perfect subtrees, largest first) and the newest checkpoint,
/// a C2SP signed note by the deployment key. The host reads the checkpoint to serve it; only the enclave can make
/// one, and a boot checks that the range and the checkpoint agree before appending.
///
/// With the head goes the batch that made it: its signed receipts, so that the host holds every receipt of the log
/// as soon as the head that counts it is stored (were the enclave to stop before its results reached the host, the
/// log would otherwise count receipts nobody has).
///
/// Wire form: CBOR map `{"v": 1, "size": uint, "hashes": [bstr32, ...], "checkpoint": bstr, ? "batch": [bstr, ...]}`.
public struct LogHeadRecord: Sendable, Hashable {
    /// The store key of the record.
    public static let storeKey = "log/head"
    /// The largest checkpoint note kept (C2SP's limit for a note).
    public static let maxCheckpoint = 64 * 1024
    /// Most receipts in a batch (a seal's count is bounded the same way).
    public static let maxBatch = Int(Seal.maxCount)
    /// The largest record: what one store blob holds.
    public static let maxBytes = 512 * 1024

    public var size: UInt64
    public var hashes: [[UInt8]]
    public var checkpoint: [UInt8]
    /// The signed receipts (`SignedReceipt` encodings) of the batch that made this head, in log order.
    public var batch: [[UInt8]]

    public init(size: UInt64, hashes: [[UInt8]], checkpoint: [UInt8], batch: [[UInt8]] = []) {
        self.size = size
        self.hashes = hashes
        self.checkpoint = checkpoint
        self.batch = batch
    }

    public var encoded: [UInt8] {
        var pairs: [(CBOR, CBOR)] = [
            ("v", .unsigned(1)), ("size", .unsigned(size)), ("hashes", .array(hashes.map { .bytes($0) })), ("checkpoint", .bytes(checkpoint)),
        ]
        if !batch.isEmpty { pairs.append(("batch", .array(batch.map { .bytes($0) }))) }
        return CBOREncoder.encode(.map(CBORMap(pairs)))
    }

    /// Parses a record strictly (deterministic encoding, at most 64 hashes of 32 bytes).
    public init(encoded bytes: [UInt8]) throws(EnvelopeError) {
        let item = try CBORFields.decode(bytes, what: "log head", maxSize: Self.maxBytes, maxDepth: 2, maxItems: 80 + Self.maxBatch)
        let f = try CBORFields(item, what: "log head", required: ["v", "size", "hashes", "checkpoint"], optional: ["batch"])
        guard try f.uint("v") == 1 else { throw EnvelopeError(.unsupportedVersion, "log head version \(try f.uint("v"))") }
        var hashes: [[UInt8]] = []
        for h in try f.array("hashes", max: 64) {
            guard let b = h.bytes, b.count == 32 else { throw EnvelopeError(.malformed, "log head.hashes holds something other than 32-byte hashes") }
            hashes.append(b)
        }
        var batch: [[UInt8]] = []
        if f.has("batch") {
            for r in try f.array("batch", max: Self.maxBatch) {
                guard let b = r.bytes, !b.isEmpty else { throw EnvelopeError(.malformed, "log head.batch holds something other than receipts") }
                batch.append(b)
            }
            guard !batch.isEmpty else { throw EnvelopeError(.malformed, "log head.batch is empty (it is left out instead)") }
        }
        self.init(size: try f.uint("size"), hashes: hashes, checkpoint: try f.bytes("checkpoint", max: Self.maxCheckpoint), batch: batch)
        guard encoded == bytes else { throw EnvelopeError(.malformed, "log head is not in its deterministic encoding") }
    }
}
