import CBOR

/// The master secret sealed to the deployment's offline recovery keys (HPKE, X25519), which the enclave keeps in
/// the host's store (`RecoveryRecord.storeKey`) beside the deployment record, rewritten at boot when the
/// manifest's recovery keys change. The deployment key (whose public key is the commitment) signs it, so a record
/// the host made (right keys, useless ciphertexts) is rewritten by the next boot and refused by the restore tool
/// and `cloister recovery verify`; the host can delete it (the enclave writes it again) but cannot read it.
///
/// Wire form: CBOR map `{"v": 1, "commitment": bstr32, "entries": [[key bstr32, enc bstr32, ct bstr48]],
/// "sig": bstr64}`, the signature over `signedBytes`.
public struct RecoveryRecord: Sendable, Hashable {
    public static let storeKey = "master/recovery"
    /// HPKE `info` of a master sealed to a recovery key; the associated data is the commitment.
    public static let info = Array("cloister-recovery/1".utf8)
    /// HPKE `info` of a master a recovery sends to an enclave; the associated data is the enclave's boot hash.
    public static let restoreInfo = Array("cloister-recovery-restore/1".utf8)

    public struct Entry: Sendable, Hashable {
        public var key: [UInt8]
        public var enc: [UInt8]
        public var ciphertext: [UInt8]
        public init(key: [UInt8], enc: [UInt8], ciphertext: [UInt8]) {
            self.key = key
            self.enc = enc
            self.ciphertext = ciphertext
        }
    }

    public var commitment: [UInt8]
    public var entries: [Entry]
    /// The deployment key's Ed25519 signature over `signedBytes`.
    public var signature: [UInt8]

    public init(commitment: [UInt8], entries: [Entry], signature: [UInt8]) {
        self.commitment = commitment
        self.entries = entries
        self.signature = signature
    }

    /// What the deployment key signs: CBOR `["cloister-recovery/1", commitment, entries]`.
    public static func signedBytes(commitment: [UInt8], entries: [Entry]) -> [UInt8] {
        CBOREncoder.encode(.array([.text("cloister-recovery/1"), .bytes(commitment), Self.entriesItem(entries)]))
    }

    public var signedBytes: [UInt8] { Self.signedBytes(commitment: commitment, entries: entries) }

    static func entriesItem(_ entries: [Entry]) -> CBOR { .array(entries.map { .array([.bytes($0.key), .bytes($0.enc), .bytes($0.ciphertext)]) }) }

    public var encoded: [UInt8] {
        CBOREncoder.encode(.map(["v": .unsigned(1), "commitment": .bytes(commitment), "entries": Self.entriesItem(entries), "sig": .bytes(signature)]))
    }

    public init(encoded bytes: [UInt8]) throws(EnvelopeError) {
        let item = try CBORFields.decode(bytes, what: "recovery record", maxSize: 4096, maxDepth: 3, maxItems: 80)
        let f = try CBORFields(item, what: "recovery record", required: ["v", "commitment", "entries", "sig"])
        guard try f.uint("v") == 1 else { throw EnvelopeError(.unsupportedVersion, "recovery record version \(try f.uint("v"))") }
        var entries: [Entry] = []
        for e in try f.array("entries", max: 8) {
            guard let a = e.array, a.count == 3, let key = a[0].bytes, key.count == 32, let enc = a[1].bytes, enc.count == 32, let ct = a[2].bytes,
                ct.count == 48
            else { throw EnvelopeError(.malformed, "a recovery entry must be [key 32, enc 32, ciphertext 48]") }
            entries.append(Entry(key: key, enc: enc, ciphertext: ct))
        }
        self.init(commitment: try f.bytes("commitment", count: 32), entries: entries, signature: try f.bytes("sig", count: 64))
    }

    /// The body of `recovery.restore`: the master sealed to the recovering enclave's boot, CBOR
    /// `{"enc": bstr32, "ct": bstr48}`.
    public static func restoreBody(enc: [UInt8], ciphertext: [UInt8]) -> [UInt8] {
        CBOREncoder.encode(.map(["enc": .bytes(enc), "ct": .bytes(ciphertext)]))
    }

    /// The parts of a `recovery.restore` body, or nil.
    public static func restoreBody(_ body: [UInt8]) -> (enc: [UInt8], ciphertext: [UInt8])? {
        guard let item = try? CBORDecoder(limits: .init(maxInputSize: 256, maxDepth: 1, maxItems: 8)).decode(body), let map = item.map, map.count == 2,
            let enc = map[.text("enc")]?.bytes, enc.count == 32, let ct = map[.text("ct")]?.bytes, ct.count == 48
        else { return nil }
        return (enc, ct)
    }
}
