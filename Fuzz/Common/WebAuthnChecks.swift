// The parsers of Sources/WebAuthn, on what a browser or authenticator hands over (through the host, which may
// change it): authenticator data, attestation objects, COSE_Key, clientDataJSON, base64url, and the registration and
// assertion ceremonies that read them. Shared by Fuzz/WebAuthnFuzz.swift, which picks one per input, and
// Fuzz/AttestationFuzz.swift, which runs them all.
//
// Invariants: each structure re-encodes (encoded, coseKey, serialized) to bytes that parse to the same value,
// within the bounds the module promises; a key's SubjectPublicKeyInfo loads back as the same key; a base64url text
// that decodes is the encoding of its bytes. The input, put in the place of one part of a valid ceremony made at
// start (an EdDSA assertion's authenticator data, clientDataJSON or signature; an ES256 assertion's DER signature;
// a registration's attestation object or clientDataJSON), passes only when it is that part (an ECDSA signature
// only with the same r: (r, n - s) is as valid as (r, s)), and a registration that passes keeps what it read.

import CBOR
import NitroAttestation
import SecureModule
import WebAuthn

let webAuthnParsers: [FuzzParser] = [
    FuzzParser(name: "authenticator-data", run: checkAuthenticatorData, seeds: {
        [ceremony.assertionData, ceremony.registrationData, credentialData(ceremony.ed25519Key, extensions: nil)]
    }),
    FuzzParser(name: "attestation-object", run: checkAttestationObject, seeds: { [ceremony.attestationObject] }),
    FuzzParser(name: "cose-key", run: checkCOSEKey, seeds: { [ceremony.ed25519Key.coseKey.encoded, ceremony.p256Key.coseKey.encoded] }),
    FuzzParser(name: "client-data", run: checkClientData, seeds: {
        [ceremony.assertionJSON, ceremony.registrationJSON,
         Array(#"{"type":"webauthn.get","challenge":"AA","origin":"https://a.example","crossOrigin":true,"topOrigin":"https://b.example","other":[1,{"x":null}]}"#.utf8)]
    }),
    FuzzParser(name: "base64url", run: checkBase64URL, seeds: { [Array(Base64URL.encode(challenge).utf8), Array("_-8".utf8)] }),
    FuzzParser(name: "assertion-data", run: { input in
        let c = ceremony
        check(!c.assertsEdDSA(input, c.assertionJSON, c.ed25519Signature) || input == c.assertionData, "other authenticator data verified", input)
    }, seeds: { [ceremony.assertionData] }),
    FuzzParser(name: "assertion-client-data", run: { input in
        let c = ceremony
        check(!c.assertsEdDSA(c.assertionData, input, c.ed25519Signature) || input == c.assertionJSON, "other clientDataJSON verified", input)
    }, seeds: { [ceremony.assertionJSON] }),
    FuzzParser(name: "assertion-signature", run: { input in
        let c = ceremony
        check(!c.assertsEdDSA(c.assertionData, c.assertionJSON, input) || input == c.ed25519Signature, "another signature verified", input)
    }, seeds: { [ceremony.ed25519Signature] }),
    FuzzParser(name: "assertion-signature-es256", run: checkES256Signature, seeds: { [ceremony.p256Signature] }),
    FuzzParser(name: "registration-object", run: checkRegistrationObject, seeds: { [ceremony.attestationObject] }),
    FuzzParser(name: "registration-client-data", run: checkRegistrationClientData, seeds: { [ceremony.registrationJSON] }),
]

/// Every WebAuthn parser on the same input (the slow combined target).
func checkAllWebAuthnParsers(_ input: [UInt8]) {
    for parser in webAuthnParsers { parser.run(input) }
}

// MARK: - The ceremonies made at start

private let rpID = "fuzz.example"
private let challenge = [UInt8](repeating: 0xAC, count: 32)
private let verifier = WebAuthnVerifier(policy: WebAuthnPolicy(rpID: rpID, allowedOrigins: ["https://\(rpID)"]))

/// An EdDSA and an ES256 assertion, and a registration of the ES256 key, each of which verifies.
private struct Ceremonies: Sendable {
    let ed25519Key: CredentialPublicKey
    let p256Key: CredentialPublicKey
    let assertionData: [UInt8]
    let assertionJSON: [UInt8]
    let ed25519Signature: [UInt8]
    let p256Signature: [UInt8]
    let registrationData: [UInt8]
    let registrationJSON: [UInt8]
    let attestationObject: [UInt8]

    init() {
        // Fixed keys and a fixed ECDSA signature (ECDSA signs with a random k): whatever a crash input holds replays.
        let ed25519 = try! CredentialKey.fromPEM(Array(ed25519PEM.utf8))
        let p256 = try! CredentialKey.fromPEM(Array(p256PEM.utf8))
        ed25519Key = try! CredentialPublicKey(algorithm: .edDSA, spki: ed25519.spki)
        p256Key = try! CredentialPublicKey(algorithm: .es256, spki: p256.spki)
        assertionData = AuthenticatorData(rpIdHash: SHA.sha256(Array(rpID.utf8)), flags: [.userPresent, .userVerified], signCount: 7).encoded
        assertionJSON = ClientData(type: ClientData.getType, challenge: challenge, origin: "https://\(rpID)").serialized
        ed25519Signature = try! ed25519.sign(assertionData + SHA.sha256(assertionJSON))
        p256Signature = Hex.decode(p256SignatureHex)!
        registrationData = credentialData(p256Key, extensions: ["credProtect": .unsigned(2)])
        registrationJSON = ClientData(type: ClientData.createType, challenge: challenge, origin: "https://\(rpID)").serialized
        attestationObject = CBOR.map(["fmt": .text("none"), "attStmt": .map([:]), "authData": .bytes(registrationData)]).encoded
    }

    func assertsEdDSA(_ data: [UInt8], _ json: [UInt8], _ signature: [UInt8]) -> Bool { asserts(data, json, signature, ed25519Key) }

    func asserts(_ data: [UInt8], _ json: [UInt8], _ signature: [UInt8], _ key: CredentialPublicKey) -> Bool {
        (try? verifier.verifyAssertion(
            authenticatorData: data, clientDataJSON: json, signature: signature, challenge: challenge, publicKey: key, storedSignCount: 0)) != nil
    }

    func registers(_ object: [UInt8], _ json: [UInt8]) -> Registration? {
        try? verifier.verifyRegistration(attestationObject: object, clientDataJSON: json, challenge: challenge)
    }
}

private let ed25519PEM = """
    -----BEGIN PRIVATE KEY-----
    MC4CAQAwBQYDK2VwBCIEIKNvr2fRfBpIleRBK60fRYUD2N3ywfI+hbQrFIgdMTuP
    -----END PRIVATE KEY-----
    """
private let p256PEM = """
    -----BEGIN PRIVATE KEY-----
    MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg1GDv5cVi2L2UJH7n
    bLBMTPH6er7NMGJy+o9pPs9b7aShRANCAARR+pRxTv+6bZU+9Wdp7laWi4VR+wz/
    QhyUiej7IsoHo2jUq6qmvMMKiBQ0Lq2copQYy2dUIsSHyDhRejnUsMjf
    -----END PRIVATE KEY-----
    """
/// The P-256 key's DER signature over the assertion's authenticator data ‖ SHA-256(clientDataJSON).
private let p256SignatureHex =
    "304602210089983e3ed8470ac404a0ca230c73c1adc6618fd55d241dcb7981dba9cfcf61ee02210080defa0ecd5210b3a2e05c03843e020af2cecc5f6a3c428b0cb937365be44d9d"

private let ceremony: Ceremonies = {
    let c = Ceremonies()
    precondition(c.assertsEdDSA(c.assertionData, c.assertionJSON, c.ed25519Signature), "the EdDSA assertion does not verify")
    precondition(c.asserts(c.assertionData, c.assertionJSON, c.p256Signature, c.p256Key), "the ES256 assertion does not verify")
    precondition(c.registers(c.attestationObject, c.registrationJSON) != nil, "the registration does not verify")
    return c
}()

/// Authenticator data of a registration: the credential `key`, with an id of 16 bytes, and `extensions`.
private func credentialData(_ key: CredentialPublicKey, extensions: CBORMap?) -> [UInt8] {
    let credential = AttestedCredentialData(aaguid: [UInt8](repeating: 0, count: 16), credentialID: [UInt8](repeating: 0x1D, count: 16), publicKey: key)
    var flags: AuthenticatorFlags = [.userPresent, .userVerified, .attestedCredentialData]
    if extensions != nil { flags.insert(.extensionData) }
    return AuthenticatorData(
        rpIdHash: SHA.sha256(Array(rpID.utf8)), flags: flags, signCount: 0, attestedCredentialData: credential, extensions: extensions
    ).encoded
}

// MARK: - Checks

private func checkAuthenticatorData(_ input: [UInt8]) {
    guard let data = try? AuthenticatorData(input) else { return }
    check((37...AuthenticatorData.maxSize).contains(input.count), "authenticator data of \(input.count) bytes parsed", input)
    check((data.attestedCredentialData?.credentialID.count ?? 0) <= 1023, "a credential id over 1023 bytes parsed", input)
    check(data.flags.contains(.attestedCredentialData) == (data.attestedCredentialData != nil), "AT and the credential disagree", input)
    check(data.flags.contains(.extensionData) == (data.extensions != nil), "ED and the extensions disagree", input)
    check(!data.flags.contains(.backedUp) || data.flags.contains(.backupEligible), "BS without BE parsed", input)
    // Compared as bytes: extension values may hold NaN, which no float equals.
    let again = try? AuthenticatorData(data.encoded)
    check(again?.encoded == data.encoded, "AuthenticatorData does not survive re-encoding", input)
    check(again?.attestedCredentialData == data.attestedCredentialData, "the credential changed on re-encoding", input)
}

private func checkAttestationObject(_ input: [UInt8]) {
    guard let object = try? AttestationObject(input) else { return }
    check(object.format == "none" && object.statement.isEmpty, "an attestation other than none parsed", input)
    check(input.count <= AttestationObject.maxSize, "an attestation object over the bound parsed", input)
    let again = try? AttestationObject(object.encoded)
    check(again?.encoded == object.encoded, "AttestationObject does not survive re-encoding", input)
}

private func checkCOSEKey(_ input: [UInt8]) {
    guard let key = try? CredentialPublicKey(coseKey: input) else { return }
    check((try? CredentialPublicKey(coseKey: key.coseKey.encoded)) == key, "a COSE_Key does not survive re-encoding", input)
    check((try? CredentialPublicKey(algorithm: key.algorithm, spki: key.spki)) == key, "a key's SubjectPublicKeyInfo does not load back", input)
}

/// The serialization escapes control characters as the WebAuthn spec's does (`\u000c` where the input may have had
/// `\f`), so it can be longer than the input: past `ClientData.maxSize` it must be refused, else read back equal.
private func checkClientData(_ input: [UInt8]) {
    guard let value = try? ClientData(json: input) else { return }
    check(input.count <= ClientData.maxSize, "clientDataJSON over the bound parsed", input)
    let encoded = value.serialized
    let again = try? ClientData(json: encoded)
    if encoded.count <= ClientData.maxSize {
        check(again == value, "ClientData does not survive re-encoding; re-encoded \(hex(encoded))", input)
    } else {
        check(again == nil, "a re-encoding over the bound parsed", input)
    }
}

private func checkBase64URL(_ input: [UInt8]) {
    guard input.count <= 4096, let text = String(validating: input, as: UTF8.self), let bytes = Base64URL.decode(text) else { return }
    check(Base64URL.encode(bytes) == text, "base64url text that decodes is not its bytes' encoding", input)
}

/// The r of a DER ECDSA signature (`SEQUENCE { INTEGER r, INTEGER s }`, short lengths); nil when it is not one.
private func derR(_ signature: [UInt8]) -> ArraySlice<UInt8>? {
    guard signature.count >= 4, signature[0] == 0x30, signature[2] == 0x02, Int(signature[3]) + 4 <= signature.count else { return nil }
    return signature[4..<4 + Int(signature[3])]
}

private func checkES256Signature(_ input: [UInt8]) {
    let c = ceremony
    guard c.asserts(c.assertionData, c.assertionJSON, input, c.p256Key) else { return }
    check(derR(input) != nil && derR(input) == derR(c.p256Signature), "an ES256 signature with another r verified", input)
}

private func checkRegistrationObject(_ input: [UInt8]) {
    guard let registration = ceremony.registers(input, ceremony.registrationJSON) else { return }
    guard let object = try? AttestationObject(input), let credential = object.authenticatorData.attestedCredentialData else {
        die("a registration passed whose attestation object does not parse or has no credential", input)
    }
    check(registration.credentialID == credential.credentialID && registration.publicKey == credential.publicKey, "a registration changed its credential", input)
    check(registration.authenticatorData.rpIdHash == SHA.sha256(Array(rpID.utf8)), "a registration for another relying party passed", input)
    check(registration.flags.isSuperset(of: [.userPresent, .userVerified]), "a registration without UP and UV passed", input)
    check(registration.signCount == object.authenticatorData.signCount, "a registration changed its counter", input)
}

private func checkRegistrationClientData(_ input: [UInt8]) {
    guard ceremony.registers(ceremony.attestationObject, input) != nil else { return }
    guard let data = try? ClientData(json: input) else { die("a registration passed whose clientDataJSON does not parse", input) }
    check(Array(data.type.utf8) == Array(ClientData.createType.utf8), "a registration with type \(data.type) passed", input)
    check(data.challenge == challenge, "a registration with another challenge passed", input)
    check(Array(data.origin.utf8) == Array("https://\(rpID)".utf8), "a registration from another origin passed", input)
    check(!data.crossOrigin && data.topOrigin == nil, "a cross-origin registration passed", input)
}
