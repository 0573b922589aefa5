import CBOR

/// The `user_data` of a deployment's genesis document: the attestation the enclave takes on the first boot of a
/// deployment, once it has made its master secret and had it sealed. It binds the deployment's public
/// commitment (the Ed25519 key derived from the master) to the hash of the sealed blob, so that a later boot can
/// tell the blob that first boot made from one the host made, and the master it unseals from another secret.
///
/// Wire form: CBOR map `{"v": 1, "genesis": bstr32 (commitment), "sealed": bstr32 (SHA-256 of the sealed blob),
/// "provider": text}`. No other document of the enclave has a `genesis` field, so none can be mistaken for one.
public struct GenesisClaims: Sendable, Hashable {
    public var commitment: [UInt8]
    public var sealedHash: [UInt8]
    /// The sealing provider that made the blob (`emulated`, `kms`).
    public var provider: String

    public init(commitment: [UInt8], sealedHash: [UInt8], provider: String) {
        self.commitment = commitment
        self.sealedHash = sealedHash
        self.provider = provider
    }

    public var encoded: [UInt8] {
        CBOREncoder.encode(.map(["v": .unsigned(1), "genesis": .bytes(commitment), "sealed": .bytes(sealedHash), "provider": .text(provider)]))
    }

    public init(encoded bytes: [UInt8]) throws(EnvelopeError) {
        let item = try CBORFields.decode(bytes, what: "genesis", maxSize: 512, maxDepth: 1, maxItems: 12)
        let f = try CBORFields(item, what: "genesis", required: ["v", "genesis", "sealed", "provider"])
        guard try f.uint("v") == 1 else { throw EnvelopeError(.unsupportedVersion, "genesis version \(try f.uint("v"))") }
        self.init(commitment: try f.bytes("genesis", count: 32), sealedHash: try f.bytes("sealed", count: 32), provider: try f.text("provider", max: 32))
    }
}

/// What the host keeps of a deployment's master secret, as one store record (`DeploymentRecord.storeKey`), written
/// atomically on the deployment's first boot: the sealed blob and the genesis document. Either part alone is
/// refused. After a recovery (the master brought back from a recovery key and sealed under a new KMS key), the
/// blob is a new one and `reseal` is the document of the authorised enclave that sealed it, with genesis claims
/// binding the same commitment to the new blob. Wire form: CBOR map `{"v": 1, "sealed": bstr, ? "genesis": bstr,
/// ? "reseal": bstr}`.
public struct DeploymentRecord: Sendable, Hashable {
    /// The store key of the record.
    public static let storeKey = "master/deployment"
    /// Where an earlier layout kept a sealed master with no genesis (refused as `genesisMissing`).
    public static let legacyStoreKey = "master/sealed"
    /// The largest sealed blob (a KMS ciphertext of 32 bytes is a few hundred; KMS allows 6 KiB).
    public static let maxSealed = 8192
    /// The largest genesis document.
    public static let maxGenesis = 16 * 1024

    public var sealed: [UInt8]
    public var genesis: [UInt8]?
    public var reseal: [UInt8]?

    public init(sealed: [UInt8], genesis: [UInt8]?, reseal: [UInt8]? = nil) {
        self.sealed = sealed
        self.genesis = genesis
        self.reseal = reseal
    }

    public var encoded: [UInt8] {
        var map: CBORMap = ["v": .unsigned(1), "sealed": .bytes(sealed)]
        if let genesis { map[.text("genesis")] = .bytes(genesis) }
        if let reseal { map[.text("reseal")] = .bytes(reseal) }
        return CBOREncoder.encode(.map(map))
    }

    public init(encoded bytes: [UInt8]) throws(EnvelopeError) {
        let item = try CBORFields.decode(bytes, what: "deployment record", maxSize: 48 * 1024, maxDepth: 1, maxItems: 12)
        let f = try CBORFields(item, what: "deployment record", required: ["v", "sealed"], optional: ["genesis", "reseal"])
        guard try f.uint("v") == 1 else { throw EnvelopeError(.unsupportedVersion, "deployment record version \(try f.uint("v"))") }
        self.init(
            sealed: try f.bytes("sealed", max: DeploymentRecord.maxSealed),
            genesis: f.has("genesis") ? try f.bytes("genesis", max: DeploymentRecord.maxGenesis) : nil,
            reseal: f.has("reseal") ? try f.bytes("reseal", max: DeploymentRecord.maxGenesis) : nil)
    }
}
