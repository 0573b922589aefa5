import EnclaveWire
import NitroAttestation

/// The streaming binary form of a receipt log (`cloister-audit-cbor/1`): a CBOR sequence (RFC 8742) structured by
/// sealed batch, so that a log of any length is written and verified holding one batch at a time.
///
/// Items, in this order, each in deterministic CBOR (shortest heads, definite lengths):
/// - the header, a map with text keys in this order: `format` tstr (`cloister-audit-cbor/1`), `source` tstr,
///   optionally `receipts` uint (how many receipts follow, for progress), `boots` [bstr ...] (the boot attestation
///   documents the log names; each is filed under its own SHA-256);
/// - records, each an array whose first item is the record's kind (tstr):
///   - `["batch", seal bstr, [[n uint, receipt bstr], ...]]`: one seal (COSE_Sign1, as the enclave signed it) and
///     the receipts it covers, in order, each with the host's log index `n`; no Merkle proofs: the verifier
///     recomputes the sealed root from the receipts;
///   - `["end", receipts uint, batches uint]`: the last item, so that a file cut at a record boundary is told from a
///     whole one.
///
/// A reader of version 1 refuses a kind it does not know; later kinds (signed checkpoints) come with a new version.
public enum AuditStream {
    public static let format = "cloister-audit-cbor/1"
    /// Longest `source` read.
    public static let maxSourceBytes = 4096
    /// Most boot documents one header carries.
    public static let maxBoots = 4096
    /// Largest host log index read (as the JSON form: below 2^53).
    public static let maxIndex: UInt64 = 1 << 53
    /// Longest record kind read.
    static let maxKindBytes = 32

    /// Whether `bytes` (a file's first bytes) look like the binary form rather than JSON: the header is a CBOR map.
    public static func isBinary(prefix bytes: some Collection<UInt8>) -> Bool {
        guard let b = bytes.first else { return false }
        return b >> 5 == 5
    }
}

/// One sealed batch as the binary form stores it: the seal once, then the receipts it covers.
public struct AuditBatch: Sendable, Hashable {
    public struct Entry: Sendable, Hashable {
        /// The host's log index.
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

    public init(seal: [UInt8], entries: [Entry]) {
        self.seal = seal
        self.entries = entries
    }
}
