import CBOR

/// What the enclave signs once per batch of receipts: the Merkle root (RFC 9162) over the encoded receipts
/// `first ..< first + count` of boot `boot`. The seal travels as a COSE_Sign1 (ES384, protected header
/// `{1: -35}`, empty unprotected header) by the enclave's identity key, the key its attestation document binds.
///
/// Payload (CBOR map, text keys, in this order): `v` 1, `boot` bstr32, `first` uint ≥ 1, `count` uint 1...4096,
/// `root` bstr32, `time` uint (enclave clock, ms).
public struct Seal: Sendable, Hashable {
    public var boot: [UInt8]
    public var first: UInt64
    public var count: UInt64
    public var root: [UInt8]
    public var time: UInt64

    public static let version: UInt64 = 1
    /// Most receipts one seal covers.
    public static let maxCount: UInt64 = 4096
    /// The COSE protected header of every seal: `{1: -35}` (ES384).
    public static let protectedHeader: [UInt8] = [0xA1, 0x01, 0x38, 0x22]
    /// Largest COSE_Sign1 seal read.
    public static let maxSize = 1024

    public init(boot: [UInt8], first: UInt64, count: UInt64, root: [UInt8], time: UInt64) {
        self.boot = boot
        self.first = first
        self.count = count
        self.root = root
        self.time = time
    }

    /// The deterministic payload bytes the signature covers.
    public var payload: [UInt8] {
        CBOREncoder.encode(
            .map([
                "v": .unsigned(Self.version), "boot": .bytes(boot), "first": .unsigned(first), "count": .unsigned(count),
                "root": .bytes(root), "time": .unsigned(time),
            ]))
    }

    /// Parses a seal payload strictly (deterministic encoding required).
    public init(payload bytes: [UInt8]) throws(EnvelopeError) {
        let item = try CBORFields.decode(bytes, what: "seal", maxSize: 512, maxDepth: 1, maxItems: 16)
        let f = try CBORFields(item, what: "seal", required: ["v", "boot", "first", "count", "root", "time"])
        guard try f.uint("v") == Self.version else { throw EnvelopeError(.unsupportedVersion, "seal version \(try f.uint("v"))") }
        self.init(boot: try f.bytes("boot", count: 32), first: try f.uint("first"), count: try f.uint("count"), root: try f.bytes("root", count: 32), time: try f.uint("time"))
        guard first >= 1, first <= UInt64.max - Self.maxCount else { throw EnvelopeError(.malformed, "seal.first out of range") }
        guard count >= 1, count <= Self.maxCount else { throw EnvelopeError(.malformed, "seal.count must be 1 to \(Self.maxCount)") }
        guard payload == bytes else { throw EnvelopeError(.malformed, "seal is not in its deterministic encoding") }
    }

    /// Whether receipt `sequence` falls under this seal.
    public func covers(_ sequence: UInt64) -> Bool { sequence >= first && sequence - first < count }
}

/// A receipt with what proves it: the seal (COSE_Sign1 bytes) and the receipt's Merkle inclusion proof under the
/// seal's root. This is one entry of the receipt log the host serves and an auditor replays. A receipt of a
/// deployment (an enclave holding a master secret) also carries its place in the deployment log: its index `n`,
/// the log head after its batch (`head`, a C2SP checkpoint signed by the deployment key) and its inclusion proof in
/// that head (`lproof`, RFC 9162, leaf hash `TreeHash.leaf(receipt)`). Receipts of earlier builds have none.
///
/// Wire form (CBOR map, text keys): `receipt` bstr, `seal` bstr, `proof` [bstr32 ...]; and together, or not at all,
/// `n` uint, `head` bstr, `lproof` [bstr32 ...].
public struct SignedReceipt: Sendable, Hashable {
    public var receipt: [UInt8]
    public var seal: [UInt8]
    public var proof: [[UInt8]]
    /// The receipt's index in the deployment log.
    public var index: UInt64?
    /// The signed checkpoint of the deployment log after the receipt's batch.
    public var head: [UInt8]?
    /// The receipt's inclusion proof in `head`.
    public var logProof: [[UInt8]]?

    public init(receipt: [UInt8], seal: [UInt8], proof: [[UInt8]], index: UInt64? = nil, head: [UInt8]? = nil, logProof: [[UInt8]]? = nil) {
        self.receipt = receipt
        self.seal = seal
        self.proof = proof
        self.index = index
        self.head = head
        self.logProof = logProof
    }

    /// Largest signed checkpoint a receipt carries.
    public static let maxHead = 8192
    /// Longest inclusion proof in the deployment log (a tree of up to 2^64 leaves).
    public static let maxLogProofLength = 64
    /// Largest encoded signed receipt read.
    public static let maxSize = Receipt.maxSize + Seal.maxSize + 64 * MerkleTree.maxProofLength + maxHead + 34 * maxLogProofLength + 64

    static let required: Set<String> = ["receipt", "seal", "proof"]
    static let optional: Set<String> = ["n", "head", "lproof"]
    static let maxItems = 16 + MerkleTree.maxProofLength + maxLogProofLength

    var fields: [(CBOR, CBOR)] {
        var fields: [(CBOR, CBOR)] = [("receipt", .bytes(receipt)), ("seal", .bytes(seal)), ("proof", .array(proof.map { .bytes($0) }))]
        if let index, let head, let logProof {
            fields += [("n", .unsigned(index)), ("head", .bytes(head)), ("lproof", .array(logProof.map { .bytes($0) }))]
        }
        return fields
    }

    public var encoded: [UInt8] { CBOREncoder.encode(.map(CBORMap(fields))) }

    public init(encoded bytes: [UInt8]) throws(EnvelopeError) {
        let item = try CBORFields.decode(bytes, what: "signed receipt", maxSize: Self.maxSize, maxDepth: 2, maxItems: Self.maxItems)
        try self.init(try CBORFields(item, what: "signed receipt", required: Self.required, optional: Self.optional))
    }

    init(_ f: CBORFields) throws(EnvelopeError) {
        receipt = try f.bytes("receipt", max: Receipt.maxSize)
        seal = try f.bytes("seal", max: Seal.maxSize)
        proof = try Self.hashes(f, "proof", max: MerkleTree.maxProofLength)
        let present = Self.optional.filter { f.has($0) }
        guard present.isEmpty || present == Self.optional else {
            throw EnvelopeError(.malformed, "\(f.what) has some of n, head and lproof: all three or none")
        }
        if !present.isEmpty {
            index = try f.uint("n")
            head = try f.bytes("head", max: Self.maxHead)
            logProof = try Self.hashes(f, "lproof", max: Self.maxLogProofLength)
        }
    }

    static func hashes(_ f: CBORFields, _ key: String, max: Int) throws(EnvelopeError) -> [[UInt8]] {
        var out: [[UInt8]] = []
        for p in try f.array(key, max: max) {
            guard let h = p.bytes, h.count == 32 else { throw EnvelopeError(.malformed, "\(f.what).\(key) holds something other than 32-byte hashes") }
            out.append(h)
        }
        return out
    }
}

/// What the client receives for one request: the result bytes and the signed receipt that commits to them
/// (the receipt's `res` is the result's SHA-256). The host passes it through untouched.
///
/// Wire form (CBOR map, text keys): `receipt`, `seal`, `proof` (and `n`, `head`, `lproof`) as in `SignedReceipt`, then
/// `result` bstr.
public struct SignedResponse: Sendable, Hashable {
    public var signed: SignedReceipt
    public var result: [UInt8]

    /// Largest result a response carries.
    public static let maxResultSize = 256 * 1024
    public static let maxSize = SignedReceipt.maxSize + maxResultSize + 16

    public init(signed: SignedReceipt, result: [UInt8]) {
        self.signed = signed
        self.result = result
    }

    public var encoded: [UInt8] { CBOREncoder.encode(.map(CBORMap(signed.fields + [("result", .bytes(result))]))) }

    public init(encoded bytes: [UInt8]) throws(EnvelopeError) {
        let item = try CBORFields.decode(bytes, what: "response", maxSize: Self.maxSize, maxDepth: 2, maxItems: SignedReceipt.maxItems)
        let f = try CBORFields(item, what: "response", required: SignedReceipt.required.union(["result"]), optional: SignedReceipt.optional)
        signed = try SignedReceipt(f)
        result = try f.bytes("result", max: Self.maxResultSize)
    }
}

/// The `user_data` of the enclave's attestation documents: its HPKE public key (X25519, 32 bytes), the SHA-256 of
/// the manifest it runs with, and, where it has them:
/// - `deployment`: the deployment's commitment (the Ed25519 public key derived from its master secret), which
///   names the deployment across boots and builds; present once the enclave holds a master secret;
/// - `boot`: the SHA-256 of this boot's attestation document, in every later (fresh) document, so that a client
///   knows which boot an identity belongs to.
///
/// Wire form: CBOR map `{"v": 1, "hpke": bstr32, "manifest": bstr32, ? "deployment": bstr32, ? "boot": bstr32}`.
public struct IdentityClaims: Sendable, Hashable {
    public var hpkePublicKey: [UInt8]
    public var manifestHash: [UInt8]
    public var deployment: [UInt8]?
    public var boot: [UInt8]?

    public init(hpkePublicKey: [UInt8], manifestHash: [UInt8], deployment: [UInt8]? = nil, boot: [UInt8]? = nil) {
        self.hpkePublicKey = hpkePublicKey
        self.manifestHash = manifestHash
        self.deployment = deployment
        self.boot = boot
    }

    public var encoded: [UInt8] {
        var map: CBORMap = ["v": .unsigned(1), "hpke": .bytes(hpkePublicKey), "manifest": .bytes(manifestHash)]
        if let deployment { map[.text("deployment")] = .bytes(deployment) }
        if let boot { map[.text("boot")] = .bytes(boot) }
        return CBOREncoder.encode(.map(map))
    }

    public init(encoded bytes: [UInt8]) throws(EnvelopeError) {
        let item = try CBORFields.decode(bytes, what: "user_data", maxSize: 512, maxDepth: 1, maxItems: 12)
        let f = try CBORFields(item, what: "user_data", required: ["v", "hpke", "manifest"], optional: ["deployment", "boot"])
        guard try f.uint("v") == 1 else { throw EnvelopeError(.unsupportedVersion, "user_data version \(try f.uint("v"))") }
        self.init(
            hpkePublicKey: try f.bytes("hpke", count: 32), manifestHash: try f.bytes("manifest", count: 32),
            deployment: f.has("deployment") ? try f.bytes("deployment", count: 32) : nil, boot: f.has("boot") ? try f.bytes("boot", count: 32) : nil)
    }
}
