import CBOR
import NitroAttestation
import Testing
import WebAuthn

/// The verifier's own rules and order, on ceremonies from `TestAuthenticator` (the peers' vectors are in
/// PythonCeremonyTests and SoftWebauthnTests).
@Suite struct WebAuthnVerifierTests {
    static let digest = SHA.sha256(Array("an action".utf8))

    @Test(arguments: [COSEAlgorithm.es256, .edDSA])
    func registersThenAssertsWithCountersAsSection7_2Says(algorithm: COSEAlgorithm) throws {
        let authenticator = try TestAuthenticator(algorithm)
        let verifier = TestAuthenticator.verifier
        let created = authenticator.registration(
            [.userPresent, .userVerified, .attestedCredentialData, .extensionData],
            extensions: ["credProtect": 3],
            challenge: [9, 9]
        )
        let registration = try verifier.verifyRegistration(
            attestationObject: created.attestationObject,
            clientDataJSON: created.clientDataJSON,
            challenge: [9, 9]
        )
        #expect(
            registration.publicKey == authenticator.publicKey && registration.credentialID == authenticator.credentialID
        )
        #expect(registration.authenticatorData.extensions?["credProtect"] == 3)

        func verify(
            count: UInt32,
            stored: UInt32,
            _ flags: AuthenticatorFlags = [.userPresent, .userVerified]
        ) throws -> VerifiedAssertion {
            let a = try authenticator.assertion(flags, signCount: count, challenge: Self.digest)
            return try verifier.verifyAssertion(
                authenticatorData: a.authenticatorData,
                clientDataJSON: a.clientDataJSON,
                signature: a.signature,
                challenge: Self.digest,
                publicKey: registration.publicKey,
                storedSignCount: stored
            )
        }
        #expect(try verify(count: 0, stored: 0).signCount == 0, "synced passkeys count nothing")
        #expect(try verify(count: 1, stored: 0).signCount == 1)
        #expect(try verify(count: 4_000_000_000, stored: 3_999_999_999).signCount == 4_000_000_000)
        #expect(
            try verify(count: 2, stored: 1, [.userPresent, .userVerified, .reserved1, .reserved2]).flags.contains(
                .reserved2
            )
        )
        for (count, stored) in [(0, 1), (1, 1), (1, 2), (0, UInt32.max)] as [(UInt32, UInt32)] {
            #expect(throws: WebAuthnError(.signCountNotIncreased, ""), "\(count) after \(stored)") {
                try verify(count: count, stored: stored)
            }
        }
    }

    @Test func aRegistrationIsNotAnAssertionNorTheOtherWayRound() throws {
        let authenticator = try TestAuthenticator(.es256)
        let created = authenticator.registration(challenge: Self.digest)
        let authData = try AttestationObject(created.attestationObject).authenticatorDataBytes
        let signature = try authenticator.key.sign(authData + SHA.sha256(created.clientDataJSON))
        #expect(throws: WebAuthnError(.typeMismatch, "")) {
            try TestAuthenticator.verifier.verifyAssertion(
                authenticatorData: authData,
                clientDataJSON: created.clientDataJSON,
                signature: signature,
                challenge: Self.digest,
                publicKey: authenticator.publicKey,
                storedSignCount: 0
            )
        }
        let asserted = try authenticator.assertion(challenge: Self.digest)
        let object = CBOR.map([
            "fmt": "none", "attStmt": .map(CBORMap()), "authData": .bytes(asserted.authenticatorData),
        ]).encoded
        #expect(throws: WebAuthnError(.typeMismatch, "")) {
            try TestAuthenticator.verifier.verifyRegistration(
                attestationObject: object,
                clientDataJSON: asserted.clientDataJSON,
                challenge: Self.digest
            )
        }
        let noCredential = ClientData(
            type: ClientData.createType,
            challenge: Self.digest,
            origin: TestAuthenticator.origin
        ).serialized
        #expect(throws: WebAuthnError(.credentialDataMissing, "")) {
            try TestAuthenticator.verifier.verifyRegistration(
                attestationObject: object,
                clientDataJSON: noCredential,
                challenge: Self.digest
            )
        }
    }

    @Test func signaturesAreOverTheBytesAsReceived() throws {
        let authenticator = try TestAuthenticator(.edDSA)
        // The same client data, one space added before signing: the bytes signed are the ones verified.
        let spaced = Array(
            #"{"type":"webauthn.get", "challenge":"\#(Base64URL.encode(Self.digest))","origin":"https://cloister.example"}"#
                .utf8
        )
        let a = try authenticator.assertion(challenge: Self.digest, clientData: spaced)
        let verified = try TestAuthenticator.verifier.verifyAssertion(
            authenticatorData: a.authenticatorData,
            clientDataJSON: spaced,
            signature: a.signature,
            challenge: Self.digest,
            publicKey: authenticator.publicKey,
            storedSignCount: 0
        )
        #expect(verified.clientData.serialized != spaced)
        #expect(throws: WebAuthnError(.signatureInvalid, "")) {
            try TestAuthenticator.verifier.verifyAssertion(
                authenticatorData: a.authenticatorData,
                clientDataJSON: verified.clientData.serialized,
                signature: a.signature,
                challenge: Self.digest,
                publicKey: authenticator.publicKey,
                storedSignCount: 0
            )
        }
        for signature in [[], [UInt8](repeating: 0, count: 64), a.signature + [0], Array(a.signature.dropLast())] {
            #expect(throws: WebAuthnError(.signatureInvalid, "")) {
                try TestAuthenticator.verifier.verifyAssertion(
                    authenticatorData: a.authenticatorData,
                    clientDataJSON: spaced,
                    signature: signature,
                    challenge: Self.digest,
                    publicKey: authenticator.publicKey,
                    storedSignCount: 0
                )
            }
        }
    }
}
