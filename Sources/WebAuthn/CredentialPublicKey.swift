import SecureModule

/// A passkey's public key: its COSE algorithm and the same key as a DER SubjectPublicKeyInfo, the form
/// `CredentialVerifier` reads and the key service stores.
///
/// Every value holds a key libcrypto loaded as that algorithm's kind (for ES256, a point on P-256), and its
/// SubjectPublicKeyInfo is always the one fixed encoding built here, so equal keys have equal bytes.
public struct CredentialPublicKey: Sendable, Hashable {
    /// The signature algorithm the key is for.
    public let algorithm: COSEAlgorithm
    /// The key as DER SubjectPublicKeyInfo.
    public let spki: [UInt8]

    /// DER SubjectPublicKeyInfo up to the point: id-ecPublicKey, prime256v1, a BIT STRING of 66 bytes, and the
    /// uncompressed-point marker 04 (RFC 5480). The 64 bytes of x ‖ y follow.
    static let p256Prefix: [UInt8] = [
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01, 0x06, 0x08, 0x2A, 0x86, 0x48,
        0xCE, 0x3D, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
    ]
    /// DER SubjectPublicKeyInfo up to the key: id-Ed25519 and a BIT STRING of 33 bytes (RFC 8410). The 32 bytes
    /// of the key follow.
    static let ed25519Prefix: [UInt8] = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]

    /// A stored key: `spki` must be the encoding this type builds for `algorithm`, holding a key libcrypto
    /// loads as that kind.
    public init(algorithm: COSEAlgorithm, spki: [UInt8]) throws(WebAuthnError) {
        let prefix = Self.prefix(algorithm)
        guard spki.count == prefix.count + Self.coordinatesLength(algorithm), spki.starts(with: prefix) else {
            throw WebAuthnError(
                .publicKeyInvalid,
                "not the \(algorithm.name) SubjectPublicKeyInfo encoding (\(spki.count) bytes)"
            )
        }
        guard CredentialVerifier.kind(spki: spki) == algorithm.credentialKind else {
            throw WebAuthnError(
                .publicKeyInvalid,
                "libcrypto does not load the \(algorithm.name) key (for ES256: a point not on P-256)"
            )
        }
        self.algorithm = algorithm
        self.spki = spki
    }

    /// A key from its raw coordinates (x, or x ‖ y), checked as `init(algorithm:spki:)` checks.
    init(algorithm: COSEAlgorithm, coordinates: [UInt8]) throws(WebAuthnError) {
        try self.init(algorithm: algorithm, spki: Self.prefix(algorithm) + coordinates)
    }

    /// The raw coordinates: for ES256 x ‖ y (64 bytes), for EdDSA the Ed25519 key (32 bytes).
    var coordinates: [UInt8] { Array(spki.dropFirst(Self.prefix(algorithm).count)) }

    /// Whether `signature` over `message` is this key's: ES256 takes a DER signature over SHA-256 of `message`,
    /// EdDSA a raw 64-byte signature over `message` itself.
    public func verify(signature: [UInt8], message: [UInt8]) -> Bool {
        CredentialVerifier.verify(kind: algorithm.credentialKind, spki: spki, signature: signature, message: message)
    }

    static func prefix(_ algorithm: COSEAlgorithm) -> [UInt8] {
        algorithm == .es256 ? p256Prefix : ed25519Prefix
    }

    static func coordinatesLength(_ algorithm: COSEAlgorithm) -> Int {
        algorithm == .es256 ? 64 : 32
    }
}
