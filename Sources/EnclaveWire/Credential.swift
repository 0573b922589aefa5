import CBOR
import NitroAttestation

/// A tenant's credential: a public key whose signatures over action digests authorise the tenant's sensitive
/// actions: a program key (Ed25519, ECDSA P-256) or a WebAuthn passkey (ES256 or EdDSA), as DER
/// SubjectPublicKeyInfo; its id is the SHA-256 of that. A passkey also keeps its WebAuthn credential id (for
/// `allowCredentials`) and its COSE algorithm. Wire form: CBOR map `{"kind": text, "spki": bstr, ? "label": text,
/// ? "wid": bstr, ? "alg": int}` (`wid` and `alg` for passkeys only).
public struct Credential: Sendable, Hashable {
    public enum Kind: String, Sendable, CaseIterable {
        case ed25519
        case ecdsaP256 = "ecdsa-p256"
        case passkey
    }

    public var kind: Kind
    public var spki: [UInt8]
    public var label: String?
    /// A passkey's WebAuthn credential id.
    public var webauthnID: [UInt8]?
    /// A passkey's COSE algorithm (-7 ES256, -8 EdDSA).
    public var algorithm: Int64?

    public static let maxSPKI = 256
    public static let maxLabel = 64
    public static let maxWebAuthnID = 1023

    public init(kind: Kind, spki: [UInt8], label: String? = nil, webauthnID: [UInt8]? = nil, algorithm: Int64? = nil) {
        self.kind = kind
        self.spki = spki
        self.label = label
        self.webauthnID = webauthnID
        self.algorithm = algorithm
    }

    /// The credential's id: SHA-256 of its SubjectPublicKeyInfo.
    public var id: [UInt8] { SHA.sha256(spki) }

    public var cbor: CBOR {
        var map: CBORMap = ["kind": .text(kind.rawValue), "spki": .bytes(spki)]
        if let label { map[.text("label")] = .text(label) }
        if let webauthnID { map[.text("wid")] = .bytes(webauthnID) }
        if let algorithm { map[.text("alg")] = algorithm >= 0 ? .unsigned(UInt64(algorithm)) : .negative(UInt64(-1 - algorithm)) }
        return .map(map)
    }

    public var encoded: [UInt8] { CBOREncoder.encode(cbor) }

    public init(_ item: CBOR) throws(EnvelopeError) {
        let f = try CBORFields(item, what: "credential", required: ["kind", "spki"], optional: ["label", "wid", "alg"])
        guard let kind = Kind(rawValue: try f.text("kind", max: 32)) else { throw EnvelopeError(.malformed, "credential.kind is not a known kind") }
        guard (kind == .passkey) == (f.has("wid") && f.has("alg")) else {
            throw EnvelopeError(.malformed, "credential: a passkey, and only a passkey, has wid and alg")
        }
        var algorithm: Int64?
        if f.has("alg") {
            switch f.map[.text("alg")] {
            case .negative(let n)? where n < 1 << 32: algorithm = -1 - Int64(n)
            case .unsigned(let n)? where n < 1 << 32: algorithm = Int64(n)
            default: throw EnvelopeError(.malformed, "credential.alg must be a small integer")
            }
        }
        self.init(
            kind: kind, spki: try f.bytes("spki", max: Self.maxSPKI), label: f.has("label") ? try f.text("label", max: Self.maxLabel) : nil,
            webauthnID: f.has("wid") ? try f.bytes("wid", max: Self.maxWebAuthnID) : nil, algorithm: algorithm)
    }

    public init(encoded bytes: [UInt8]) throws(EnvelopeError) {
        try self.init(try CBORFields.decode(bytes, what: "credential", maxSize: 2048, maxDepth: 1, maxItems: 12))
    }
}
