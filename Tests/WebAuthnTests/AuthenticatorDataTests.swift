import CBOR
import NitroAttestation
import Testing
import WebAuthn

/// Authenticator data (section 6.1) cut, stretched and bent: each rule refused with its exact code.
@Suite struct AuthenticatorDataTests {
    static let full: [UInt8] = {
        let authenticator = try! TestAuthenticator(.es256)
        let extensions: CBORMap = ["credProtect": 2, "hmac-secret": true]
        return authenticator.authenticatorData(
            [.userPresent, .userVerified, .attestedCredentialData, .extensionData],
            signCount: 0x0102_0304,
            attested: true,
            extensions: extensions
        ).encoded
    }()

    @Test func readsEveryPart() throws {
        let data = try AuthenticatorData(Self.full)
        #expect(data.rpIdHash == SHA.sha256(Array(TestAuthenticator.rpID.utf8)))
        #expect(data.flags == [.userPresent, .userVerified, .attestedCredentialData, .extensionData])
        #expect(data.signCount == 16_909_060, "big-endian")
        #expect(data.attestedCredentialData?.credentialID == Array(0..<32))
        #expect(data.attestedCredentialData?.aaguid == [UInt8](repeating: 0xA5, count: 16))
        #expect(data.attestedCredentialData?.publicKey.algorithm == .es256)
        #expect(data.extensions?["credProtect"] == 2)
        #expect(data.encoded == Self.full)
    }

    @Test func everyPrefixIsRefused() {
        for length in 0..<Self.full.count {
            #expect(throws: WebAuthnError.self, "prefix of \(length) bytes") {
                try AuthenticatorData(Array(Self.full.prefix(length)))
            }
        }
        for length in 0..<37 {
            #expect(throws: WebAuthnError(.authenticatorDataMalformed, "")) {
                try AuthenticatorData(Array(Self.full.prefix(length)))
            }
        }
    }

    static let header = SHA.sha256(Array("cloister.example".utf8))
    static func data(_ flags: UInt8, _ rest: [UInt8] = []) -> [UInt8] { header + [flags, 0, 0, 0, 1] + rest }
    static let aaguid = [UInt8](repeating: 0, count: 16)
    static let key = try! TestAuthenticator(.edDSA).publicKey.coseKey.encoded

    static let refused: [(name: String, bytes: [UInt8], code: WebAuthnErrorCode)] = [
        ("over 4 KiB", data(0x01, [UInt8](repeating: 0, count: 4096 - 36)), .authenticatorDataMalformed),
        ("a byte after the counter, no AT or ED", data(0x01, [0]), .authenticatorDataMalformed),
        ("AT set, nothing after the counter", data(0x41), .authenticatorDataMalformed),
        ("AT set, AAGUID cut", data(0x41, [UInt8](repeating: 0, count: 15)), .authenticatorDataMalformed),
        (
            "credentialIdLength 0xFFFF", data(0x41, aaguid + [0xFF, 0xFF] + [UInt8](repeating: 0, count: 100)),
            .authenticatorDataMalformed
        ),
        (
            "credentialIdLength 1024", data(0x41, aaguid + [0x04, 0x00] + [UInt8](repeating: 0, count: 1024) + key),
            .authenticatorDataMalformed
        ),
        (
            "credential id longer than the bytes left",
            data(0x41, aaguid + [0x00, 0x40] + [UInt8](repeating: 0, count: 63)), .authenticatorDataMalformed
        ),
        ("no COSE key", data(0x41, aaguid + [0x00, 0x01, 0x07]), .coseKeyMalformed),
        (
            "COSE key declares a 2^64-1 byte coordinate",
            data(
                0x41,
                aaguid + [0x00, 0x01, 0x07, 0xA4, 0x01, 0x01, 0x03, 0x27, 0x20, 0x06, 0x21, 0x5B]
                    + [UInt8](repeating: 0xFF, count: 8)
            ), .coseKeyMalformed
        ),
        (
            "COSE key declares 2^32 entries", data(0x41, aaguid + [0x00, 0x01, 0x07, 0xBA, 0xFF, 0xFF, 0xFF, 0xFF]),
            .coseKeyMalformed
        ),
        (
            "COSE key repeats kty", data(0x41, aaguid + [0x00, 0x01, 0x07, 0xA5, 0x01, 0x01] + key.dropFirst()),
            .coseKeyMalformed
        ),
        ("COSE key nested in an array", data(0x41, aaguid + [0x00, 0x01, 0x07, 0x81] + key), .coseKeyMalformed),
        (
            "a byte after the COSE key, no ED", data(0x41, aaguid + [0x00, 0x01, 0x07] + key + [0x00]),
            .authenticatorDataMalformed
        ),
        ("ED set, nothing after the counter", data(0x81), .extensionsMalformed),
        ("ED set, an array", data(0x81, [0x80]), .extensionsMalformed),
        ("ED set, an integer key", data(0x81, [0xA1, 0x01, 0x02]), .extensionsMalformed),
        ("ED set, a repeated key", data(0x81, [0xA2, 0x61, 0x61, 0x01, 0x61, 0x61, 0x02]), .extensionsMalformed),
        ("ED set, a byte after the map", data(0x81, [0xA0, 0x00]), .extensionsMalformed),
        ("ED set, a map declaring 2^32 entries", data(0x81, [0xBA, 0xFF, 0xFF, 0xFF, 0xFF]), .extensionsMalformed),
        (
            "ED set, a map nested past the bound",
            data(0x81, [0xA1, 0x61, 0x61] + [UInt8](repeating: 0x81, count: 8) + [0x00]), .extensionsMalformed
        ),
        ("AT and ED set, extensions missing", data(0xC1, aaguid + [0x00, 0x01, 0x07] + key), .extensionsMalformed),
        ("BS without BE", data(0x11), .backupStateInvalid),
    ]

    @Test(arguments: refused)
    func refuses(name: String, bytes: [UInt8], code: WebAuthnErrorCode) {
        #expect(throws: WebAuthnError(code, ""), "\(name)") { try AuthenticatorData(bytes) }
    }

    @Test func reservedBitsAreKeptAndNotJudged() throws {
        let data = try AuthenticatorData(Self.data(0x01 | 0x02 | 0x20 | 0x08 | 0x10))
        #expect(data.flags.contains([.reserved1, .reserved2, .backupEligible, .backedUp]))
        #expect(data.encoded == Self.data(0x3B))
    }

    @Test func largestCredentialIDIsAccepted() throws {
        let bytes = Self.data(0x41, Self.aaguid + [0x03, 0xFF] + [UInt8](repeating: 7, count: 1023) + Self.key)
        #expect(try AuthenticatorData(bytes).attestedCredentialData?.credentialID.count == 1023)
    }
}
