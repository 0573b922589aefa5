import CBOR

/// An attestation object (W3C WebAuthn, section 6.5.4): the CBOR map `{"fmt", "attStmt", "authData"}` a
/// registration returns. Only the "none" format (section 8.7) is accepted, whose statement is empty: Cloister
/// trusts a passkey because its tenant registered it, not because of who made the authenticator.
public struct AttestationObject: Sendable, Hashable {
    /// The attestation statement format; always "none" here.
    public var format: String
    /// The attestation statement; always empty here.
    public var statement: CBORMap
    /// The authenticator data as received.
    public var authenticatorDataBytes: [UInt8]
    /// The authenticator data, parsed.
    public var authenticatorData: AuthenticatorData

    /// The one format accepted.
    public static let noneFormat = "none"
    /// Largest attestation object read: other formats, with their certificate chains, still get their own
    /// refusal rather than a size error.
    public static let maxSize = 16 * 1024
    static let limits = CBORDecoder.Limits(maxInputSize: maxSize, maxDepth: 8, maxItems: 1024)
    static let keys: Set<String> = ["fmt", "attStmt", "authData"]

    /// Parses an attestation object and the authenticator data inside it.
    public init(_ bytes: [UInt8]) throws(WebAuthnError) {
        guard bytes.count <= Self.maxSize else {
            throw WebAuthnError(.attestationMalformed, "\(bytes.count) bytes; at most \(Self.maxSize) accepted")
        }
        let item: CBOR
        do {
            item = try CBORDecoder(limits: Self.limits).decode(bytes)
        } catch {
            throw WebAuthnError(.attestationMalformed, "not one well-formed CBOR item: \(error)", underlying: error)
        }
        try self.init(item)
    }

    /// Applies the rules to a decoded attestation object.
    public init(_ item: CBOR) throws(WebAuthnError) {
        guard let map = item.map else {
            throw WebAuthnError(.attestationMalformed, "a \(item.kindName), not a map")
        }
        let names = map.compactMap(\.key.text)
        guard names.count == map.count, Set(names) == Self.keys else {
            throw WebAuthnError(
                .attestationMalformed,
                "keys are \(map.map { "\($0.key)" }), expected exactly fmt, attStmt and authData"
            )
        }
        guard let format = map["fmt"]?.text else {
            throw WebAuthnError(.attestationMalformed, "fmt is a \(map["fmt"]!.kindName), not text")
        }
        guard format == Self.noneFormat else {
            throw WebAuthnError(
                .unsupportedAttestationFormat,
                "format \"\(format.prefix(32))\"; only \"none\" is accepted"
            )
        }
        guard let statement = map["attStmt"]?.map else {
            throw WebAuthnError(.attestationMalformed, "attStmt is a \(map["attStmt"]!.kindName), not a map")
        }
        guard statement.isEmpty else {
            throw WebAuthnError(
                .attestationMalformed,
                "a \"none\" attestation statement is empty; this one has \(statement.count) entries"
            )
        }
        guard let authData = map["authData"]?.bytes else {
            throw WebAuthnError(.attestationMalformed, "authData is a \(map["authData"]!.kindName), not a byte string")
        }
        self.format = format
        self.statement = statement
        self.authenticatorDataBytes = authData
        self.authenticatorData = try AuthenticatorData(authData)
    }

    /// The object as deterministic CBOR, keys in the order browsers send them: fmt, attStmt, authData.
    public var encoded: [UInt8] {
        CBOR.map(["fmt": .text(format), "attStmt": .map(statement), "authData": .bytes(authenticatorDataBytes)]).encoded
    }
}
