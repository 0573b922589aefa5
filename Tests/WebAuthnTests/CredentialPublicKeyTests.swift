import CBOR
import NitroAttestation
import SecureModule
import Testing
import WebAuthn

/// COSE_Key (section 6.5.1.1) to SubjectPublicKeyInfo, and the keys refused on the way.
@Suite struct CredentialPublicKeyTests {
    static let p256 = try! TestAuthenticator(.es256)
    static let ed25519 = try! TestAuthenticator(.edDSA)
    /// x ‖ y of the P-256 key: the last 64 bytes of its SubjectPublicKeyInfo.
    static let xy = Array(p256.key.spki.suffix(64))
    static let x = Array(xy.prefix(32))
    static let y = Array(xy.suffix(32))
    static let edX = Array(ed25519.key.spki.suffix(32))

    static func es256(_ edit: (inout CBORMap) -> Void) -> CBOR {
        var map: CBORMap = [1: 2, 3: -7, -1: 1, -2: .bytes(x), -3: .bytes(y)]
        edit(&map)
        return .map(map)
    }

    @Test(arguments: [COSEAlgorithm.es256, .edDSA])
    func keysMatchLibcryptosEncodingAndRoundTrip(algorithm: COSEAlgorithm) throws {
        let authenticator = algorithm == .es256 ? Self.p256 : Self.ed25519
        let key = try CredentialPublicKey(cose: authenticator.publicKey.coseKey)
        #expect(key.spki == authenticator.key.spki, "the fixed prefix is what OpenSSL writes")
        #expect(key == authenticator.publicKey)
        #expect(try CredentialPublicKey(coseKey: key.coseKey.encoded) == key)
        let message = Array("authenticatorData ‖ hash".utf8)
        #expect(key.verify(signature: try authenticator.key.sign(message), message: message))
        #expect(!key.verify(signature: try authenticator.key.sign(message), message: message + [0]))
    }

    static let p = Hex.decode("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff")!

    static let refused: [(name: String, key: CBOR, code: WebAuthnErrorCode)] = [
        ("an array", [1, 2], .coseKeyMalformed),
        ("a text label", es256 { $0["x"] = 1 }, .coseKeyMalformed),
        ("a label past Int64", es256 { $0[.unsigned(UInt64.max)] = 1 }, .coseKeyMalformed),
        ("no alg", es256 { $0[3] = nil }, .coseKeyMalformed),
        ("alg as text", es256 { $0[3] = "ES256" }, .coseKeyMalformed),
        (
            "RS256", .map([1: 3, 3: -257, -1: .bytes([UInt8](repeating: 1, count: 256)), -2: .bytes([1, 0, 1])]),
            .unsupportedAlgorithm
        ),
        ("ES384", es256 { $0[3] = -35 }, .unsupportedAlgorithm),
        ("ESP256 (fully specified)", es256 { $0[3] = -9 }, .unsupportedAlgorithm),
        ("unregistered algorithm", es256 { $0[3] = 99 }, .unsupportedAlgorithm),
        ("ES256 with kty OKP", es256 { $0[1] = 1 }, .coseKeyMalformed),
        ("ES256 with kty as text", es256 { $0[1] = "EC2" }, .coseKeyMalformed),
        ("ES256 on P-384", es256 { $0[-1] = 2 }, .coseKeyMalformed),
        ("ES256 without y", es256 { $0[-3] = nil }, .coseKeyMalformed),
        ("ES256 compressed (y a boolean)", es256 { $0[-3] = true }, .coseKeyMalformed),
        ("x of 31 bytes", es256 { $0[-2] = .bytes(Array(x.dropFirst())) }, .coseKeyMalformed),
        ("y of 33 bytes", es256 { $0[-3] = .bytes([0] + y) }, .coseKeyMalformed),
        ("with a kid", es256 { $0[2] = .bytes([1]) }, .coseKeyMalformed),
        ("with key_ops", es256 { $0[4] = [2] }, .coseKeyMalformed),
        ("point off the curve", es256 { $0[-3] = .bytes(Array(y.dropLast()) + [y.last! ^ 1]) }, .coseKeyMalformed),
        ("x equal to the field prime", es256 { $0[-2] = .bytes(p) }, .coseKeyMalformed),
        (
            "the point (0, 0)",
            es256 {
                $0[-2] = .bytes([UInt8](repeating: 0, count: 32)); $0[-3] = .bytes([UInt8](repeating: 0, count: 32))
            }, .coseKeyMalformed
        ),
        ("EdDSA with y", .map([1: 1, 3: -8, -1: 6, -2: .bytes(edX), -3: .bytes(edX)]), .coseKeyMalformed),
        ("EdDSA on Ed448", .map([1: 1, 3: -8, -1: 7, -2: .bytes(edX)]), .coseKeyMalformed),
        ("EdDSA with kty EC2", .map([1: 2, 3: -8, -1: 6, -2: .bytes(edX)]), .coseKeyMalformed),
        (
            "EdDSA with x of 57 bytes", .map([1: 1, 3: -8, -1: 6, -2: .bytes([UInt8](repeating: 1, count: 57))]),
            .coseKeyMalformed
        ),
    ]

    @Test(arguments: refused)
    func refuses(name: String, key: CBOR, code: WebAuthnErrorCode) {
        #expect(throws: WebAuthnError(code, ""), "\(name)") { try CredentialPublicKey(cose: key) }
    }

    @Test func unsupportedAlgorithmsAreNamed() {
        for (identifier, name) in [
            (-257, "RS256"), (-35, "ES384"), (-47, "ES256K"), (-19, "Ed25519"), (12345, "unregistered"),
        ] {
            do {
                _ = try CredentialPublicKey(cose: Self.es256 { $0[3] = .int(Int64(identifier)) })
                Issue.record("alg \(identifier) accepted")
            } catch {
                #expect(error.code == .unsupportedAlgorithm && error.message.contains(name), "\(error)")
            }
        }
    }

    @Test func repeatedLabelsAndTrailingBytesAreRefusedAsBytes() {
        // a5 01 02 03 26 ... 03 26: alg twice; the decoder sees the repeat before any rule does.
        let repeated = [0xA6] + Array(Self.es256 { _ in }.encoded.dropFirst()) + [0x03, 0x26]
        #expect(throws: WebAuthnError(.coseKeyMalformed, "")) { try CredentialPublicKey(coseKey: repeated) }
        #expect(throws: WebAuthnError(.coseKeyMalformed, "")) {
            try CredentialPublicKey(coseKey: Self.es256 { _ in }.encoded + [0])
        }
        #expect(throws: WebAuthnError(.coseKeyMalformed, "")) {
            try CredentialPublicKey(coseKey: [UInt8](repeating: 0xA0, count: 1025))
        }
    }

    @Test func storedKeysAreCheckedAgainstTheirAlgorithm() throws {
        #expect(try CredentialPublicKey(algorithm: .es256, spki: Self.p256.key.spki) == Self.p256.publicKey)
        #expect(try CredentialPublicKey(algorithm: .edDSA, spki: Self.ed25519.key.spki) == Self.ed25519.publicKey)
        let offCurve = Array(Self.p256.key.spki.dropLast()) + [Self.p256.key.spki.last! ^ 1]
        let cut = Array(Self.p256.key.spki.dropLast())
        for (name, algorithm, spki) in [
            ("an Ed25519 key as ES256", COSEAlgorithm.es256, Self.ed25519.key.spki),
            ("a P-256 key as EdDSA", .edDSA, Self.p256.key.spki),
            ("off the curve", .es256, offCurve), ("cut", .es256, cut), ("empty", .edDSA, []),
            ("a byte after the key", .edDSA, Self.ed25519.key.spki + [0]),
        ] {
            #expect(throws: WebAuthnError(.publicKeyInvalid, ""), "\(name)") {
                try CredentialPublicKey(algorithm: algorithm, spki: spki)
            }
        }
    }
}
