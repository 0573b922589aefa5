import CBOR

extension CredentialPublicKey {
    /// COSE key parameters (RFC 9052, section 7; RFC 9053, sections 7.1 and 7.2).
    enum Label {
        static let kty: Int64 = 1
        static let alg: Int64 = 3
        static let crv: Int64 = -1
        static let x: Int64 = -2
        static let y: Int64 = -3
    }

    /// Bounds for a COSE_Key on its own: a P-256 key is 77 bytes and 11 items.
    public static let coseLimits = CBORDecoder.Limits(maxInputSize: 1024, maxDepth: 2, maxItems: 16)

    /// Parses the bytes of exactly one COSE_Key (`init(cose:)` says what is accepted).
    public init(coseKey bytes: [UInt8]) throws(WebAuthnError) {
        let item: CBOR
        do {
            item = try CBORDecoder(limits: Self.coseLimits).decode(bytes)
        } catch {
            throw WebAuthnError(
                .coseKeyMalformed,
                "the COSE_Key is not one well-formed CBOR item: \(error)",
                underlying: error
            )
        }
        try self.init(cose: item)
    }

    /// Reads a COSE_Key (W3C WebAuthn, section 6.5.1.1): integer labels only, `alg` present, and exactly the
    /// parameters the algorithm requires: for ES256 kty 2 (EC2), crv 1 (P-256), x and y of 32 bytes each, the
    /// point on the curve; for EdDSA kty 1 (OKP), crv 6 (Ed25519), x of 32 bytes. Any other algorithm is
    /// refused by name.
    public init(cose item: CBOR) throws(WebAuthnError) {
        guard let map = item.map else {
            throw WebAuthnError(.coseKeyMalformed, "the COSE_Key is a \(item.kindName), not a map")
        }
        var parameters: [Int64: CBOR] = [:]
        for entry in map {
            guard let label = entry.key.int64 else {
                throw WebAuthnError(.coseKeyMalformed, "COSE_Key label \(entry.key) is not an integer")
            }
            parameters[label] = entry.value
        }
        guard let algValue = parameters[Label.alg] else {
            throw WebAuthnError(.coseKeyMalformed, "the COSE_Key has no alg (3)")
        }
        guard let identifier = algValue.int64 else {
            throw WebAuthnError(.coseKeyMalformed, "alg is a \(algValue.kindName), not an integer")
        }
        guard let algorithm = COSEAlgorithm(rawValue: identifier) else {
            throw WebAuthnError(
                .unsupportedAlgorithm,
                "\(COSEAlgorithm.name(of: identifier)); accepted: ES256 (-7), EdDSA (-8)"
            )
        }
        let required: [Int64] =
            algorithm == .es256
            ? [Label.kty, Label.alg, Label.crv, Label.x, Label.y] : [Label.kty, Label.alg, Label.crv, Label.x]
        guard Set(parameters.keys) == Set(required) else {
            throw WebAuthnError(
                .coseKeyMalformed,
                "an \(algorithm.name) COSE_Key has labels \(required.map(String.init)), found \(parameters.keys.sorted().map(String.init))"
            )
        }
        let (kty, crv): (Int64, Int64) = algorithm == .es256 ? (2, 1) : (1, 6)
        guard parameters[Label.kty]?.int64 == kty else {
            throw WebAuthnError(
                .coseKeyMalformed,
                "an \(algorithm.name) key has kty \(kty), found \(parameters[Label.kty]!)"
            )
        }
        guard parameters[Label.crv]?.int64 == crv else {
            throw WebAuthnError(
                .coseKeyMalformed,
                "an \(algorithm.name) key has crv \(crv), found \(parameters[Label.crv]!)"
            )
        }
        var coordinates: [UInt8] = []
        for label in required.dropFirst(3) {
            guard let value = parameters[label]?.bytes, value.count == 32 else {
                throw WebAuthnError(
                    .coseKeyMalformed,
                    "coordinate \(label) must be 32 bytes, found \(parameters[label]!)"
                )
            }
            coordinates += value
        }
        do {
            try self.init(algorithm: algorithm, coordinates: coordinates)
        } catch {
            throw WebAuthnError(
                .coseKeyMalformed,
                "the \(algorithm.name) key does not load: \(error.message)",
                underlying: error
            )
        }
    }

    /// The COSE_Key of this key, labels in the order kty, alg, crv, x (, y): what `init(cose:)` reads back.
    public var coseKey: CBOR {
        let xy = coordinates
        if algorithm == .es256 {
            return .map([
                1: 2, 3: .int(algorithm.rawValue), -1: 1, -2: .bytes(Array(xy.prefix(32))),
                -3: .bytes(Array(xy.suffix(32))),
            ])
        }
        return .map([1: 1, 3: .int(algorithm.rawValue), -1: 6, -2: .bytes(xy)])
    }
}
