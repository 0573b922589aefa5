import CBOR
import Testing
import WebAuthn

/// Attestation objects (section 6.5.4), "none" only (section 8.7).
@Suite struct AttestationObjectTests {
    static let authenticator = try! TestAuthenticator(.es256)
    static let authData = authenticator.authenticatorData(
        [.userPresent, .userVerified, .attestedCredentialData],
        attested: true
    ).encoded
    static let valid = authenticator.registration(challenge: [1, 2, 3]).attestationObject

    static func object(_ entries: [(CBOR, CBOR)]) -> [UInt8] { CBOR.map(CBORMap(entries)).encoded }

    @Test func readsNone() throws {
        let object = try AttestationObject(Self.valid)
        #expect(object.format == "none" && object.statement.isEmpty)
        #expect(object.authenticatorDataBytes == Self.authData)
        #expect(object.authenticatorData.attestedCredentialData?.publicKey == Self.authenticator.publicKey)
        #expect(object.encoded == Self.valid)
        // Any key order is read (CTAP's canonical order is the one browsers send, but nothing rests on it).
        #expect(
            try AttestationObject(
                Self.object([("authData", .bytes(Self.authData)), ("fmt", "none"), ("attStmt", .map(CBORMap()))])
            ) == object
        )
    }

    @Test func everyPrefixIsRefused() {
        for length in 0..<Self.valid.count {
            #expect(throws: WebAuthnError.self, "prefix of \(length) bytes") {
                try AttestationObject(Array(Self.valid.prefix(length)))
            }
        }
    }

    static let statement = CBOR.map(CBORMap())
    static let refused: [(name: String, bytes: [UInt8], code: WebAuthnErrorCode)] = [
        ("empty", [], .attestationMalformed),
        ("not CBOR", [0xFF], .attestationMalformed),
        ("an array", CBOR.array(["none", statement, .bytes(authData)]).encoded, .attestationMalformed),
        ("a byte after the map", valid + [0], .attestationMalformed),
        (
            "over 16 KiB",
            object([
                ("fmt", "none"), ("attStmt", statement), ("authData", .bytes([UInt8](repeating: 0, count: 16 * 1024))),
            ]), .attestationMalformed
        ),
        ("a map declaring 2^63 entries", [0xBB, 0x80, 0, 0, 0, 0, 0, 0, 0], .attestationMalformed),
        (
            "authData declaring 2^32 bytes",
            [0xA3, 0x63] + Array("fmt".utf8) + [0x64] + Array("none".utf8) + [0x67] + Array("attStmt".utf8) + [
                0xA0, 0x68,
            ] + Array("authData".utf8) + [0x5A, 0xFF, 0xFF, 0xFF, 0xFF], .attestationMalformed
        ),
        (
            "fmt repeated", [0xA4, 0x63] + Array("fmt".utf8) + [0x64] + Array("none".utf8) + Array(valid.dropFirst()),
            .attestationMalformed
        ),
        ("no fmt", object([("attStmt", statement), ("authData", .bytes(authData))]), .attestationMalformed),
        ("no authData", object([("fmt", "none"), ("attStmt", statement)]), .attestationMalformed),
        (
            "an extra key",
            object([("fmt", "none"), ("attStmt", statement), ("authData", .bytes(authData)), ("epAtt", true)]),
            .attestationMalformed
        ),
        (
            "an integer key", object([("fmt", "none"), ("attStmt", statement), (3, .bytes(authData))]),
            .attestationMalformed
        ),
        (
            "fmt as bytes",
            object([("fmt", .bytes(Array("none".utf8))), ("attStmt", statement), ("authData", .bytes(authData))]),
            .attestationMalformed
        ),
        (
            "attStmt as an array", object([("fmt", "none"), ("attStmt", []), ("authData", .bytes(authData))]),
            .attestationMalformed
        ),
        (
            "none with a signature",
            object([("fmt", "none"), ("attStmt", .map(["sig": .bytes([1])])), ("authData", .bytes(authData))]),
            .attestationMalformed
        ),
        (
            "authData as text", object([("fmt", "none"), ("attStmt", statement), ("authData", "authData")]),
            .attestationMalformed
        ),
        (
            "packed",
            object([
                ("fmt", "packed"), ("attStmt", .map(["alg": -7, "sig": .bytes([0x30])])),
                ("authData", .bytes(authData)),
            ]), .unsupportedAttestationFormat
        ),
        (
            "tpm", object([("fmt", "tpm"), ("attStmt", .map(["ver": "2.0"])), ("authData", .bytes(authData))]),
            .unsupportedAttestationFormat
        ),
        (
            "apple", object([("fmt", "apple"), ("attStmt", .map(["x5c": []])), ("authData", .bytes(authData))]),
            .unsupportedAttestationFormat
        ),
        (
            "fido-u2f", object([("fmt", "fido-u2f"), ("attStmt", statement), ("authData", .bytes(authData))]),
            .unsupportedAttestationFormat
        ),
        (
            "None (case differs)", object([("fmt", "None"), ("attStmt", statement), ("authData", .bytes(authData))]),
            .unsupportedAttestationFormat
        ),
        (
            "authData too short", object([("fmt", "none"), ("attStmt", statement), ("authData", .bytes([1, 2, 3]))]),
            .authenticatorDataMalformed
        ),
    ]

    @Test(arguments: refused)
    func refuses(name: String, bytes: [UInt8], code: WebAuthnErrorCode) {
        #expect(throws: WebAuthnError(code, ""), "\(name)") { try AttestationObject(bytes) }
    }
}
