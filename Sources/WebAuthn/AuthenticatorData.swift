import CBOR
import NitroAttestation

/// Authenticator data (W3C WebAuthn, section 6.1): rpIdHash (32) ‖ flags (1) ‖ signCount (4, big-endian)
/// ‖ attested credential data (when AT is set) ‖ extensions (a CBOR map, when ED is set).
///
/// Parsing is strict and bounded: nothing may follow the last part the flags announce, a part the flags
/// announce must be there, and BS is never set without BE. It proves nothing about who made the bytes: the
/// verifier checks the rpIdHash, the flags the policy needs, and (for assertions) the signature over the
/// bytes as received.
public struct AuthenticatorData: Sendable, Hashable {
    /// SHA-256 of the relying party id the credential is scoped to.
    public var rpIdHash: [UInt8]
    /// The flags byte.
    public var flags: AuthenticatorFlags
    /// The signature counter (0 when the authenticator keeps none, as synced passkeys do).
    public var signCount: UInt32
    /// Present exactly when AT is set.
    public var attestedCredentialData: AttestedCredentialData?
    /// The authenticator extension outputs, keyed by extension identifier; present exactly when ED is set.
    public var extensions: CBORMap?

    /// Size of rpIdHash ‖ flags ‖ signCount, the shortest authenticator data.
    public static let minimumSize = 37
    /// Largest authenticator data accepted: a 1023-byte credential id, a COSE key and extension outputs fit.
    public static let maxSize = 4096
    /// Bounds for the COSE_Key read from the front of what follows the credential id.
    static let coseLimits = CBORDecoder.Limits(maxInputSize: maxSize, maxDepth: 2, maxItems: 16)
    /// Bounds for the extensions map.
    static let extensionLimits = CBORDecoder.Limits(maxInputSize: maxSize, maxDepth: 8, maxItems: 256)

    /// Authenticator data from its parts. The flags are taken as given: `encoded` parses back only when AT and
    /// ED agree with the parts present.
    public init(
        rpIdHash: [UInt8],
        flags: AuthenticatorFlags,
        signCount: UInt32,
        attestedCredentialData: AttestedCredentialData? = nil,
        extensions: CBORMap? = nil
    ) {
        self.rpIdHash = rpIdHash
        self.flags = flags
        self.signCount = signCount
        self.attestedCredentialData = attestedCredentialData
        self.extensions = extensions
    }

    /// Parses authenticator data as an authenticator sent it.
    public init(_ bytes: [UInt8]) throws(WebAuthnError) {
        guard bytes.count >= Self.minimumSize else {
            throw WebAuthnError(.authenticatorDataMalformed, "\(bytes.count) bytes; authenticator data has at least 37")
        }
        guard bytes.count <= Self.maxSize else {
            throw WebAuthnError(.authenticatorDataMalformed, "\(bytes.count) bytes; at most \(Self.maxSize) accepted")
        }
        rpIdHash = Array(bytes[0..<32])
        flags = AuthenticatorFlags(rawValue: bytes[32])
        signCount = bytes[33..<37].reduce(0) { $0 << 8 | UInt32($1) }
        if flags.contains(.backedUp) && !flags.contains(.backupEligible) {
            throw WebAuthnError(
                .backupStateInvalid,
                "BS is set but BE is not: a credential that cannot be backed up is reported backed up"
            )
        }
        var rest = Array(bytes[37...])

        if flags.contains(.attestedCredentialData) {
            let (data, length) = try Self.attestedCredentialData(rest)
            attestedCredentialData = data
            rest.removeFirst(length)
        } else {
            attestedCredentialData = nil
        }

        if flags.contains(.extensionData) {
            extensions = try Self.extensions(rest)
        } else {
            extensions = nil
            guard rest.isEmpty else {
                throw WebAuthnError(
                    .authenticatorDataMalformed,
                    "\(rest.count) bytes follow the last part the flags announce (AT \(flags.contains(.attestedCredentialData)), ED false)"
                )
            }
        }
    }

    /// rpIdHash ‖ flags ‖ signCount ‖ attested credential data ‖ extensions, the last two deterministic CBOR.
    public var encoded: [UInt8] {
        var out = rpIdHash
        out.append(flags.rawValue)
        out += [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: signCount >> $0) }
        if let attestedCredentialData { out += attestedCredentialData.encoded }
        if let extensions { out += CBOR.map(extensions).encoded }
        return out
    }

    /// Reads attested credential data from the front of `bytes`; returns it and the bytes it took.
    private static func attestedCredentialData(_ bytes: [UInt8]) throws(WebAuthnError) -> (AttestedCredentialData, Int)
    {
        let header = AttestedCredentialData.aaguidLength + 2
        guard bytes.count >= header else {
            throw WebAuthnError(
                .authenticatorDataMalformed,
                "AT is set but only \(bytes.count) bytes follow the counter; the AAGUID and id length take 18"
            )
        }
        let idLength = Int(bytes[16]) << 8 | Int(bytes[17])
        guard idLength <= AttestedCredentialData.maxCredentialIDLength else {
            throw WebAuthnError(.authenticatorDataMalformed, "credentialIdLength is \(idLength); at most 1023")
        }
        guard bytes.count - header >= idLength else {
            throw WebAuthnError(
                .authenticatorDataMalformed,
                "credentialIdLength is \(idLength) but \(bytes.count - header) bytes follow it"
            )
        }
        let keyStart = header + idLength
        let item: CBOR
        let keyLength: Int
        do {
            (item, keyLength) = try CBORDecoder(limits: coseLimits).decodePrefix(Array(bytes[keyStart...]))
        } catch {
            throw WebAuthnError(
                .coseKeyMalformed,
                "the credential public key is not a well-formed CBOR item: \(error)",
                underlying: error
            )
        }
        let data = AttestedCredentialData(
            aaguid: Array(bytes[0..<16]),
            credentialID: Array(bytes[header..<keyStart]),
            publicKey: try CredentialPublicKey(cose: item)
        )
        return (data, keyStart + keyLength)
    }

    /// Reads the extensions: exactly one CBOR map with text keys, nothing after it.
    private static func extensions(_ bytes: [UInt8]) throws(WebAuthnError) -> CBORMap {
        let item: CBOR
        do {
            item = try CBORDecoder(limits: extensionLimits).decode(bytes)
        } catch {
            throw WebAuthnError(
                .extensionsMalformed,
                "ED is set but the rest is not one well-formed CBOR item: \(error)",
                underlying: error
            )
        }
        guard let map = item.map else {
            throw WebAuthnError(.extensionsMalformed, "the extensions are a \(item.kindName), not a map")
        }
        guard map.allSatisfy({ $0.key.text != nil }) else {
            throw WebAuthnError(.extensionsMalformed, "an extension identifier is not text")
        }
        return map
    }
}
