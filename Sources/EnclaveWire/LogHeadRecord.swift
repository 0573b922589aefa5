import CBOR

/// The deployment log's state as the enclave keeps it in the host's store (`LogHeadRecord.storeKey`): the compact
/// range of the log (its size and the roots of its perfect subtrees, largest first) and the newest checkpoint,
/// a C2SP signed note by the deployment key. The host reads the checkpoint to serve it; only the enclave can make
/// one, and a boot checks that the range and the checkpoint agree before appending.
///
/// Wire form: CBOR map `{"v": 1, "size": uint, "hashes": [bstr32, ...], "checkpoint": bstr}`.
public struct LogHeadRecord: Sendable, Hashable {
    /// The store key of the record.
    public static let storeKey = "log/head"
    /// The largest checkpoint note kept (C2SP's limit for a note).
    public static let maxCheckpoint = 64 * 1024

    public var size: UInt64
    public var hashes: [[UInt8]]
    public var checkpoint: [UInt8]

    public init(size: UInt64, hashes: [[UInt8]], checkpoint: [UInt8]) {
        self.size = size
        self.hashes = hashes
        self.checkpoint = checkpoint
    }

    public var encoded: [UInt8] {
        CBOREncoder.encode(
            .map([
                "v": .unsigned(1), "size": .unsigned(size), "hashes": .array(hashes.map { .bytes($0) }), "checkpoint": .bytes(checkpoint),
            ]))
    }

    /// Parses a record strictly (deterministic encoding, at most 64 hashes of 32 bytes).
    public init(encoded bytes: [UInt8]) throws(EnvelopeError) {
        let item = try CBORFields.decode(bytes, what: "log head", maxSize: Self.maxCheckpoint + 4096, maxDepth: 2, maxItems: 80)
        let f = try CBORFields(item, what: "log head", required: ["v", "size", "hashes", "checkpoint"])
        guard try f.uint("v") == 1 else { throw EnvelopeError(.unsupportedVersion, "log head version \(try f.uint("v"))") }
        var hashes: [[UInt8]] = []
        for h in try f.array("hashes", max: 64) {
            guard let b = h.bytes, b.count == 32 else { throw EnvelopeError(.malformed, "log head.hashes holds something other than 32-byte hashes") }
            hashes.append(b)
        }
        self.init(size: try f.uint("size"), hashes: hashes, checkpoint: try f.bytes("checkpoint", max: Self.maxCheckpoint))
        guard encoded == bytes else { throw EnvelopeError(.malformed, "log head is not in its deterministic encoding") }
    }
}
