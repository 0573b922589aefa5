import CBOR
import EnclaveWire
import Foundation
import NitroAttestation
import SecureModule

/// A software passkey (ES256) for tests: it makes the attestation object of a registration (format "none") and
/// assertions over a challenge, as W3C WebAuthn describes them, with knobs to break each rule.
struct SoftPasskey {
    let key: CredentialKey
    let credentialID: [UInt8]
    var rpID = "example.com"
    var origin = "https://example.com"
    var counter: UInt32 = 0

    init() throws {
        key = try CredentialKey.generate(.ecdsaP256)
        credentialID = Random.bytes(16)
    }

    /// The id the tenant's credential set gives it: SHA-256 of its SubjectPublicKeyInfo.
    var id: [UInt8] { SHA.sha256(key.spki) }

    static func b64url(_ bytes: [UInt8]) -> String {
        Base64.encode(bytes).replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    func clientData(type: String, challenge: [UInt8], origin: String? = nil, extra: String = "") -> [UInt8] {
        Array(#"{"type":"\#(type)","challenge":"\#(Self.b64url(challenge))","origin":"\#(origin ?? self.origin)","crossOrigin":false\#(extra)}"#.utf8)
    }

    func authenticatorData(flags: UInt8, counter: UInt32, attested: Bool, rpID: String? = nil) -> [UInt8] {
        var out = SHA.sha256(Array((rpID ?? self.rpID).utf8)) + [flags] + withUnsafeBytes(of: counter.bigEndian) { Array($0) }
        if attested {
            let spki = key.spki
            let cose = CBOREncoder.encode(
                .map([.unsigned(1): .unsigned(2), .unsigned(3): .negative(6), .negative(0): .unsigned(1), .negative(1): .bytes(Array(spki[27..<59])), .negative(2): .bytes(Array(spki[59..<91]))]))
            out += [UInt8](repeating: 0, count: 16) + [UInt8(credentialID.count >> 8), UInt8(credentialID.count & 0xFF)] + credentialID + cose
        }
        return out
    }

    /// What `navigator.credentials.create` would return: the attestation object and clientDataJSON.
    func registration() -> (attestationObject: [UInt8], clientDataJSON: [UInt8]) {
        let authData = authenticatorData(flags: 0x45, counter: counter, attested: true)
        let object = CBOREncoder.encode(.map(["fmt": "none", "attStmt": .map([:]), "authData": .bytes(authData)]))
        return (object, clientData(type: "webauthn.create", challenge: Random.bytes(32)))
    }

    /// An assertion over `challenge` as an approval; `flags` 0x05 is UP and UV.
    mutating func approve(
        _ challenge: [UInt8], flags: UInt8 = 0x05, origin: String? = nil, type: String = "webauthn.get", rpID: String? = nil, extra: String = "",
        counter next: UInt32? = nil
    ) throws -> Approval {
        counter = next ?? counter + 1
        let authData = authenticatorData(flags: flags, counter: counter, attested: false, rpID: rpID)
        let clientDataJSON = clientData(type: type, challenge: challenge, origin: origin, extra: extra)
        let signature = try key.sign(authData + SHA.sha256(clientDataJSON))
        return Approval(credential: id, signature: signature, authenticatorData: authData, clientDataJSON: clientDataJSON)
    }
}
