import Foundation
import NitroAttestation
import Testing
import WebAuthn

/// soft-webauthn's `SoftWebauthnDevice` (PyPI; its COSE key and CBOR come from python-fido2) as a second producer
/// nobody here wrote: it registers an ES256 credential and signs assertions over action digests, which must
/// verify, count up, and be refused when replayed or presented for another action. Scripts/bootstrap installs
/// it; without it this test fails.
@Suite struct SoftWebauthnTests {
    /// argv: rp id, origin, registration challenge, then one action digest per assertion (hex).
    static let script = #"""
        import json, sys
        from soft_webauthn import SoftWebauthnDevice

        rp_id, origin, reg_challenge, digests = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3]), [bytes.fromhex(d) for d in sys.argv[4:]]
        device = SoftWebauthnDevice()
        created = device.create({"publicKey": {
            "challenge": reg_challenge, "rp": {"id": rp_id, "name": "Cloister"}, "user": {"id": b"tenant-1", "name": "tenant"},
            "pubKeyCredParams": [{"alg": -7, "type": "public-key"}], "attestation": "none"}}, origin)
        assertions = []
        for digest in digests:
            got = device.get({"publicKey": {"challenge": digest, "rpId": rp_id}}, origin)
            r = got["response"]
            assertions.append({"authenticatorData": r["authenticatorData"].hex(), "clientDataJSON": r["clientDataJSON"].hex(), "signature": r["signature"].hex()})
        print(json.dumps({"credentialId": created["rawId"].hex(), "attestationObject": created["response"]["attestationObject"].hex(),
                          "clientDataJSON": created["response"]["clientDataJSON"].hex(), "assertions": assertions}))
        """#

    @Test func softWebauthnDeviceRegistersAndSignsActions() throws {
        let challenge = SHA.sha256(Array("soft-webauthn registration".utf8))
        let digests = (1...3).map { SHA.sha256(Array("action \($0)".utf8)) }
        let out = try Python.json(
            Self.script,
            [TestAuthenticator.rpID, TestAuthenticator.origin, Hex.encode(challenge)] + digests.map { Hex.encode($0) },
            needs: "soft-webauthn and fido2"
        )
        let object = try Python.bytes(out, "attestationObject")
        let json = try Python.bytes(out, "clientDataJSON")

        // The device only ever tests presence, so the default policy (user verification required) refuses it.
        #expect(throws: WebAuthnError(.userNotVerified, "")) {
            try TestAuthenticator.verifier.verifyRegistration(
                attestationObject: object,
                clientDataJSON: json,
                challenge: challenge
            )
        }
        let policy = WebAuthnPolicy(
            rpID: TestAuthenticator.rpID,
            allowedOrigins: [TestAuthenticator.origin],
            requireUserVerification: false
        )
        let verifier = WebAuthnVerifier(policy: policy)
        let registration = try verifier.verifyRegistration(
            attestationObject: object,
            clientDataJSON: json,
            challenge: challenge
        )
        #expect(registration.publicKey.algorithm == .es256)
        #expect(registration.credentialID == (try Python.bytes(out, "credentialId")))
        #expect(registration.aaguid == [UInt8](repeating: 0, count: 16) && registration.signCount == 0)
        #expect(!registration.isUserVerified)

        let assertions = try #require(out["assertions"] as? [[String: Any]])
        try #require(assertions.count == digests.count)
        var parts: [(data: [UInt8], json: [UInt8], signature: [UInt8])] = []
        for vector in assertions {
            parts.append(
                (
                    try Python.bytes(vector, "authenticatorData"), try Python.bytes(vector, "clientDataJSON"),
                    try Python.bytes(vector, "signature")
                )
            )
        }
        /// Assertion `i`, presented as the signature of the action `digest`.
        func present(_ i: Int, for digest: [UInt8], stored: UInt32) throws(WebAuthnError) -> VerifiedAssertion {
            try verifier.verifyAssertion(
                authenticatorData: parts[i].data,
                clientDataJSON: parts[i].json,
                signature: parts[i].signature,
                challenge: digest,
                publicKey: registration.publicKey,
                storedSignCount: stored
            )
        }
        var stored = registration.signCount
        for i in parts.indices {
            let verified = try present(i, for: digests[i], stored: stored)
            #expect(verified.signCount == stored + 1)
            stored = verified.signCount
        }
        // Replayed: the counter has moved past it.
        #expect(throws: WebAuthnError(.signCountNotIncreased, "")) { try present(0, for: digests[0], stored: stored) }
        // Presented for another action: its challenge is the other action's digest.
        #expect(throws: WebAuthnError(.challengeMismatch, "")) { try present(2, for: digests[1], stored: 0) }
    }
}
