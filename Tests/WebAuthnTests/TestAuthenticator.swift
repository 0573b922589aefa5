import CBOR
import NitroAttestation
import SecureModule
import WebAuthn

/// A software authenticator built from the program keys' signer, for the tests that need many valid ceremonies
/// to cut, stretch and bend. (Vectors made by peers nobody here wrote are in PythonCeremonyTests and
/// SoftWebauthnTests.)
struct TestAuthenticator {
    static let rpID = "cloister.example"
    static let origin = "https://cloister.example"
    static let policy = WebAuthnPolicy(rpID: rpID, allowedOrigins: [origin])
    static let verifier = WebAuthnVerifier(policy: policy)

    let key: CredentialKey
    let publicKey: CredentialPublicKey
    let credentialID: [UInt8] = Array(0..<32)
    let aaguid: [UInt8] = Array(repeating: 0xA5, count: 16)

    init(_ algorithm: COSEAlgorithm) throws {
        key = try CredentialKey.generate(algorithm.credentialKind)
        publicKey = try CredentialPublicKey(algorithm: algorithm, spki: key.spki)
    }

    /// Authenticator data for this relying party.
    func authenticatorData(
        _ flags: AuthenticatorFlags = [.userPresent, .userVerified],
        signCount: UInt32 = 0,
        attested: Bool = false,
        extensions: CBORMap? = nil
    ) -> AuthenticatorData {
        AuthenticatorData(
            rpIdHash: SHA.sha256(Array(Self.rpID.utf8)),
            flags: flags,
            signCount: signCount,
            attestedCredentialData: attested
                ? AttestedCredentialData(aaguid: aaguid, credentialID: credentialID, publicKey: publicKey) : nil,
            extensions: extensions
        )
    }

    /// A registration's attestation object ("none") and clientDataJSON.
    func registration(
        _ flags: AuthenticatorFlags = [.userPresent, .userVerified, .attestedCredentialData],
        extensions: CBORMap? = nil,
        challenge: [UInt8]
    ) -> (attestationObject: [UInt8], clientDataJSON: [UInt8]) {
        let data = authenticatorData(flags, attested: flags.contains(.attestedCredentialData), extensions: extensions)
        let object = CBOR.map(["fmt": "none", "attStmt": .map(CBORMap()), "authData": .bytes(data.encoded)]).encoded
        return (object, ClientData(type: ClientData.createType, challenge: challenge, origin: Self.origin).serialized)
    }

    /// An assertion's authenticator data, clientDataJSON and signature.
    func assertion(
        _ flags: AuthenticatorFlags = [.userPresent, .userVerified],
        signCount: UInt32 = 1,
        challenge: [UInt8],
        clientData: [UInt8]? = nil
    ) throws -> (authenticatorData: [UInt8], clientDataJSON: [UInt8], signature: [UInt8]) {
        let data = authenticatorData(flags, signCount: signCount).encoded
        let json =
            clientData ?? ClientData(type: ClientData.getType, challenge: challenge, origin: Self.origin).serialized
        return (data, json, try key.sign(data + SHA.sha256(json)))
    }
}
