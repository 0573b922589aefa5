import SecureModule

/// The COSE algorithms a passkey's public key may have here (IANA COSE Algorithms registry).
public enum COSEAlgorithm: Int64, Sendable, Hashable, CaseIterable {
    /// ECDSA over P-256 with SHA-256; signatures are DER.
    case es256 = -7
    /// EdDSA; with the OKP key type and curve Ed25519 (the only curve accepted), raw 64-byte signatures.
    case edDSA = -8

    /// The registry's name.
    public var name: String {
        switch self {
        case .es256: return "ES256"
        case .edDSA: return "EdDSA"
        }
    }

    /// The program-key kind whose verifier checks this algorithm's signatures.
    public var credentialKind: CredentialKey.Kind {
        switch self {
        case .es256: return .ecdsaP256
        case .edDSA: return .ed25519
        }
    }

    /// The registry's name for any algorithm identifier, so that a refusal says what was offered.
    public static func name(of identifier: Int64) -> String {
        if let known = COSEAlgorithm(rawValue: identifier) { return known.name }
        return otherNames[identifier].map { "\($0) (\(identifier))" } ?? "unregistered algorithm \(identifier)"
    }

    /// Algorithms authenticators offer that are refused here.
    private static let otherNames: [Int64: String] = [
        -9: "ESP256", -19: "Ed25519", -35: "ES384", -36: "ES512", -37: "PS256", -38: "PS384", -39: "PS512",
        -47: "ES256K", -51: "ESP384", -52: "ESP512", -53: "Ed448", -257: "RS256", -258: "RS384", -259: "RS512",
        -65535: "RS1",
    ]
}
