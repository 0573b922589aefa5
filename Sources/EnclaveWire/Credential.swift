import CBOR
import NitroAttestation

/// A tenant's credential: a public key whose signatures over action digests authorise the tenant's sensitive
/// actions. Here program keys (Ed25519, ECDSA P-256), as DER SubjectPublicKeyInfo; its id is the SHA-256 of that.
/// Wire form: CBOR map `{"kind": text, "spki": bstr, ? "label": text}`.
public struct Credential: Sendable, Hashable {
    public enum Kind: String, Sendable, CaseIterable {
        case ed25519
        case ecdsaP256 = "ecdsa-p256"
    }

    public var kind: Kind
    public var spki: [UInt8]
    public var label: String?

    public static let maxSPKI = 256
    public static let maxLabel = 64

    public init(kind: Kind, spki: [UInt8], label: String? = nil) {
        self.kind = kind
        self.spki = spki
        self.label = label
    }

    /// The credential's id: SHA-256 of its SubjectPublicKeyInfo.
    public var id: [UInt8] { SHA.sha256(spki) }

    public var cbor: CBOR {
        var map: CBORMap = ["kind": .text(kind.rawValue), "spki": .bytes(spki)]
        if let label { map[.text("label")] = .text(label) }
        return .map(map)
    }

    public var encoded: [UInt8] { CBOREncoder.encode(cbor) }

    public init(_ item: CBOR) throws(EnvelopeError) {
        let f = try CBORFields(item, what: "credential", required: ["kind", "spki"], optional: ["label"])
        guard let kind = Kind(rawValue: try f.text("kind", max: 32)) else { throw EnvelopeError(.malformed, "credential.kind is not a known kind") }
        self.init(kind: kind, spki: try f.bytes("spki", max: Self.maxSPKI), label: f.has("label") ? try f.text("label", max: Self.maxLabel) : nil)
    }

    public init(encoded bytes: [UInt8]) throws(EnvelopeError) {
        try self.init(try CBORFields.decode(bytes, what: "credential", maxSize: 1024, maxDepth: 1, maxItems: 8))
    }
}
