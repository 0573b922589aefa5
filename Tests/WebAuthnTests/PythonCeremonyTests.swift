import EnclaveWire
import Foundation
import NitroAttestation
import Testing
import WebAuthn

/// Registrations and assertions made in Python with `cryptography` and `cbor2` (PyPI), nobody here's code, for
/// ES256 and EdDSA: the valid ones verified, then each rule broken once and refused with its exact code. The
/// script first has python-fido2's `Fido2Server` (Yubico) verify every valid case, so the vectors are good by a
/// second verifier too. Scripts/bootstrap installs the three packages; without them these tests fail.
@Suite struct PythonCeremonyTests {
    /// argv: algorithm (ES256 or EdDSA), rp id, origin, registration challenge, action digest (hex). Prints the
    /// credential, its key as DER SubjectPublicKeyInfo, and the vectors, each with what must happen to it.
    static let script = #"""
        import hashlib, json, sys
        import cbor2
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519

        alg, rp_id, origin, reg_challenge, action_digest = sys.argv[1], sys.argv[2], sys.argv[3], bytes.fromhex(sys.argv[4]), bytes.fromhex(sys.argv[5])
        UP, UV, BE, BS, AT, ED = 0x01, 0x04, 0x08, 0x10, 0x40, 0x80

        def new_key():
            return ec.generate_private_key(ec.SECP256R1()) if alg == "ES256" else ed25519.Ed25519PrivateKey.generate()

        def raw_point(key):
            pub = key.public_key()
            if alg == "ES256":
                return pub.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)[1:]
            return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

        def cose_pairs(key):
            p = raw_point(key)
            if alg == "ES256":
                return [(1, 2), (3, -7), (-1, 1), (-2, p[:32]), (-3, p[32:])]
            return [(1, 1), (3, -8), (-1, 6), (-2, p)]

        def cbor_map(pairs):
            # By hand, so that a case can repeat a label (cbor2 encodes dicts, which cannot).
            assert len(pairs) < 24
            return bytes([0xA0 + len(pairs)]) + b"".join(cbor2.dumps(k) + cbor2.dumps(v) for k, v in pairs)

        def sign(key, message):
            return key.sign(message, ec.ECDSA(hashes.SHA256())) if alg == "ES256" else key.sign(message)

        def b64url(b):
            import base64
            return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

        def client_data(type_, challenge, extra=None, raw=None, origin_=None):
            if raw is not None:
                return raw.encode()
            d = {"type": type_, "challenge": b64url(challenge), "origin": origin_ or origin, "crossOrigin": False}
            d.update(extra or {})
            return json.dumps(d, separators=(",", ":")).encode()

        def auth_data(flags, count, attested=b"", extensions=b"", rp=None):
            return hashlib.sha256((rp or rp_id).encode()).digest() + bytes([flags]) + count.to_bytes(4, "big") + attested + extensions

        key = new_key()
        other = new_key()
        credential_id = bytes(range(1, 33))
        aaguid = bytes.fromhex("ea9b8d664d011d213ce4b6b48cb575d4")
        cose = cbor_map(cose_pairs(key))
        attested = aaguid + len(credential_id).to_bytes(2, "big") + credential_id + cose

        def attestation(authdata, fmt="none", stmt=None):
            return cbor2.dumps({"fmt": fmt, "attStmt": stmt or {}, "authData": authdata})

        registrations = []
        def reg(name, expect, authdata=None, cdata=None, obj=None):
            authdata = authdata if authdata is not None else auth_data(UP | UV | AT, 0, attested)
            cdata = cdata if cdata is not None else client_data("webauthn.create", reg_challenge)
            registrations.append({"name": name, "expect": expect, "attestationObject": (obj or attestation(authdata)).hex(), "clientDataJSON": cdata.hex()})

        ok_cd = client_data("webauthn.create", reg_challenge)
        reg("valid", "ok")
        reg("valid, synced passkey (BE and BS)", "ok", auth_data(UP | UV | BE | BS | AT, 0, attested))
        reg("valid, an unknown member in client data", "ok", cdata=client_data("webauthn.create", reg_challenge, {"other_keys_can_be_added_here": "do not compare clientDataJSON against a template"}))
        reg("valid, credProtect extension output", "ok", auth_data(UP | UV | AT | ED, 0, attested, cbor2.dumps({"credProtect": 2})))
        reg("valid, reserved flag bits set", "ok", auth_data(UP | UV | AT | 0x02 | 0x20, 0, attested))
        reg("rpIdHash of another relying party", "rpIdHashMismatch", auth_data(UP | UV | AT, 0, attested, rp="evil.example"))
        reg("UP clear", "userNotPresent", auth_data(UV | AT, 0, attested))
        reg("UV clear", "userNotVerified", auth_data(UP | AT, 0, attested))
        reg("BS without BE", "backupStateInvalid", auth_data(UP | UV | BS | AT, 0, attested))
        reg("AT clear, no credential", "credentialDataMissing", auth_data(UP | UV, 0))
        reg("AT clear, credential present", "authenticatorDataMalformed", auth_data(UP | UV, 0, attested))
        reg("ED set, no extensions", "extensionsMalformed", auth_data(UP | UV | AT | ED, 0, attested))
        reg("a byte after the COSE key", "authenticatorDataMalformed", auth_data(UP | UV | AT, 0, attested + b"\x00"))
        reg("credentialIdLength 1024", "authenticatorDataMalformed", auth_data(UP | UV | AT, 0, aaguid + (1024).to_bytes(2, "big") + bytes(1024) + cose))
        reg("COSE key repeats alg", "coseKeyMalformed", auth_data(UP | UV | AT, 0, aaguid + b"\x00\x20" + credential_id + cbor_map(cose_pairs(key) + [(3, -7 if alg == "ES256" else -8)])))
        reg("COSE key with a kid", "coseKeyMalformed", auth_data(UP | UV | AT, 0, aaguid + b"\x00\x20" + credential_id + cbor_map(cose_pairs(key) + [(2, b"kid")])))
        reg("COSE key RS256", "unsupportedAlgorithm", auth_data(UP | UV | AT, 0, aaguid + b"\x00\x20" + credential_id + cbor_map([(1, 3), (3, -257), (-1, bytes(256)), (-2, b"\x01\x00\x01")])))
        if alg == "ES256":
            p = raw_point(key)
            off_curve = cbor_map([(1, 2), (3, -7), (-1, 1), (-2, p[:32]), (-3, p[32:63] + bytes([p[63] ^ 1]))])
            reg("COSE key point off the curve", "coseKeyMalformed", auth_data(UP | UV | AT, 0, aaguid + b"\x00\x20" + credential_id + off_curve))
        reg("type webauthn.get", "typeMismatch", cdata=client_data("webauthn.get", reg_challenge))
        reg("another challenge", "challengeMismatch", cdata=client_data("webauthn.create", bytes(32)))
        reg("another origin", "originNotAllowed", cdata=client_data("webauthn.create", reg_challenge, origin_="https://evil.example"))
        reg("crossOrigin true", "crossOrigin", cdata=client_data("webauthn.create", reg_challenge, {"crossOrigin": True}))
        reg("topOrigin present", "crossOrigin", cdata=client_data("webauthn.create", reg_challenge, {"topOrigin": "https://evil.example"}))
        reg("challenge member twice", "clientDataDuplicateMember", cdata=ok_cd[:-1] + b',"challenge":"' + b64url(bytes(32)).encode() + b'"}')
        reg("fmt packed", "unsupportedAttestationFormat", obj=attestation(auth_data(UP | UV | AT, 0, attested), "packed", {"alg": -7, "sig": b"\x30\x00"}))
        reg("fmt none with a statement", "attestationMalformed", obj=attestation(auth_data(UP | UV | AT, 0, attested), "none", {"sig": b"\x00"}))

        assertions = []
        def asr(name, expect, flags=UP | UV, count=5, stored=4, cdata=None, signer=None, authdata=None, signature=None, after=None):
            ad = authdata if authdata is not None else auth_data(flags, count)
            cd = cdata if cdata is not None else client_data("webauthn.get", action_digest)
            sig = signature if signature is not None else sign(signer or key, ad + hashlib.sha256(cd).digest())
            if after:
                ad, cd, sig = after(ad, cd, sig)
            assertions.append({"name": name, "expect": expect, "authenticatorData": ad.hex(), "clientDataJSON": cd.hex(), "signature": sig.hex(), "storedSignCount": stored})

        ok_get = client_data("webauthn.get", action_digest)
        asr("valid", "ok")
        asr("valid, synced passkey counting nothing", "ok", UP | UV | BE | BS, 0, 0)
        asr("valid, first use after registration at 0", "ok", count=1, stored=0)
        asr("valid, an unknown member in client data", "ok", cdata=client_data("webauthn.get", action_digest, {"other_keys_can_be_added_here": "x"}))
        asr("valid, client data with whitespace and a nested member", "ok", cdata=b'{ "type" : "webauthn.get",\n "challenge": "' + b64url(action_digest).encode() + b'", "origin": "' + origin.encode() + b'", "tokenBinding": {"status": "supported"} }')
        asr("rpIdHash of another relying party", "rpIdHashMismatch", authdata=auth_data(UP | UV, 5, rp="evil.example"))
        asr("UP clear", "userNotPresent", UV)
        asr("UV clear", "userNotVerified", UP)
        asr("type webauthn.create", "typeMismatch", cdata=client_data("webauthn.create", action_digest))
        asr("another challenge", "challengeMismatch", cdata=client_data("webauthn.get", hashlib.sha256(b"another action").digest()))
        asr("another origin", "originNotAllowed", cdata=client_data("webauthn.get", action_digest, origin_="https://evil.example"))
        asr("crossOrigin true", "crossOrigin", cdata=client_data("webauthn.get", action_digest, {"crossOrigin": True, "topOrigin": "https://evil.example"}))
        asr("type member twice", "clientDataDuplicateMember", cdata=b'{"type":"webauthn.create",' + ok_get[1:])
        asr("signature bit flipped", "signatureInvalid", after=lambda ad, cd, s: (ad, cd, s[:-1] + bytes([s[-1] ^ 1])))
        asr("signed by another key", "signatureInvalid", signer=other)
        asr("counter raised after signing", "signatureInvalid", after=lambda ad, cd, s: (ad[:36] + bytes([ad[36] + 1]), cd, s))
        asr("client data respaced after signing", "signatureInvalid", after=lambda ad, cd, s: (ad, cd.replace(b",", b", ", 1), s))
        asr("counter went down", "signCountNotIncreased", count=3, stored=5)
        asr("counter repeated", "signCountNotIncreased", count=5, stored=5)
        asr("counter 0 after a non-zero count", "signCountNotIncreased", count=0, stored=5)

        # python-fido2's server checks the valid cases first, so that the vectors are known good by a verifier
        # nobody here wrote.
        from fido2.server import Fido2Server
        from fido2.webauthn import (AttestationObject, AuthenticatorData, CollectedClientData, PublicKeyCredentialRpEntity,
                                    UserVerificationRequirement)
        from fido2.utils import websafe_encode
        server = Fido2Server(PublicKeyCredentialRpEntity(name="Cloister", id=rp_id), verify_origin=lambda o: o == origin)
        checked = 0
        for r in registrations:
            if r["expect"] == "ok":
                state = {"challenge": websafe_encode(reg_challenge), "user_verification": UserVerificationRequirement.REQUIRED}
                server.register_complete(state, CollectedClientData(bytes.fromhex(r["clientDataJSON"])), AttestationObject(bytes.fromhex(r["attestationObject"])))
                checked += 1
        credential = AttestationObject(bytes.fromhex(registrations[0]["attestationObject"])).auth_data.credential_data
        for a in assertions:
            if a["expect"] == "ok":
                state = {"challenge": websafe_encode(action_digest), "user_verification": UserVerificationRequirement.REQUIRED}
                server.authenticate_complete(state, [credential], credential.credential_id, CollectedClientData(bytes.fromhex(a["clientDataJSON"])),
                                             AuthenticatorData(bytes.fromhex(a["authenticatorData"])), bytes.fromhex(a["signature"]))
                checked += 1

        spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        print(json.dumps({"credentialId": credential_id.hex(), "aaguid": aaguid.hex(), "spki": spki.hex(), "fido2Checked": checked,
                          "registrations": registrations, "assertions": assertions}))
        """#

    static let registrationChallenge = Array(SHA.sha256(Array("registration challenge".utf8)))
    /// A real action's digest: what the key service sets as an assertion's challenge.
    static let actionDigest = Action(
        deployment: [UInt8](repeating: 0xD0, count: 32),
        boot: [UInt8](repeating: 0xB0, count: 32),
        tenant: "acme",
        operation: "sign",
        requestID: "req-1",
        requestHash: [UInt8](repeating: 0x5A, count: 32),
        expiry: 1_900_000_000_000
    ).digest

    @Test(arguments: [COSEAlgorithm.es256, .edDSA])
    func pythonCeremonies(algorithm: COSEAlgorithm) throws {
        let out = try Python.json(
            Self.script,
            [
                algorithm.name, TestAuthenticator.rpID, TestAuthenticator.origin,
                Hex.encode(Self.registrationChallenge), Hex.encode(Self.actionDigest),
            ],
            needs: "cryptography, cbor2 and fido2"
        )
        #expect(out["fido2Checked"] as? Int == 10, "python-fido2 verified \(out["fido2Checked"] ?? "none") valid cases")
        let verifier = TestAuthenticator.verifier

        let registrations = try #require(out["registrations"] as? [[String: Any]])
        var registered: Registration?
        for vector in registrations {
            let name = try #require(vector["name"] as? String)
            let (object, json) = (
                try Python.bytes(vector, "attestationObject"), try Python.bytes(vector, "clientDataJSON")
            )
            let result = Result { () throws(WebAuthnError) -> Registration in
                try verifier.verifyRegistration(
                    attestationObject: object,
                    clientDataJSON: json,
                    challenge: Self.registrationChallenge
                )
            }
            Outcome.check(result, try #require(vector["expect"] as? String), "registration: \(name)")
            if name == "valid" { registered = try? result.get() }
        }
        let registration = try #require(registered, "the valid registration was refused")
        #expect(registration.publicKey.algorithm == algorithm)
        #expect(
            registration.publicKey.spki == (try Python.bytes(out, "spki")),
            "the SubjectPublicKeyInfo differs from cryptography's"
        )
        #expect(registration.credentialID == (try Python.bytes(out, "credentialId")))
        #expect(registration.aaguid == (try Python.bytes(out, "aaguid")))
        #expect(registration.signCount == 0 && registration.isUserVerified && !registration.isBackupEligible)

        let assertions = try #require(out["assertions"] as? [[String: Any]])
        #expect(assertions.count == 20)
        for vector in assertions {
            let name = try #require(vector["name"] as? String)
            let stored = UInt32(try #require(vector["storedSignCount"] as? Int))
            let authenticatorData = try Python.bytes(vector, "authenticatorData")
            let (json, signature) = (try Python.bytes(vector, "clientDataJSON"), try Python.bytes(vector, "signature"))
            let result = Result { () throws(WebAuthnError) -> VerifiedAssertion in
                try verifier.verifyAssertion(
                    authenticatorData: authenticatorData,
                    clientDataJSON: json,
                    signature: signature,
                    challenge: Self.actionDigest,
                    publicKey: registration.publicKey,
                    storedSignCount: stored
                )
            }
            Outcome.check(result, try #require(vector["expect"] as? String), "assertion: \(name)")
            if case .success(let verified) = result {
                #expect(
                    verified.signCount == authenticatorData[33..<37].reduce(0) { $0 << 8 | UInt32($1) },
                    "\(name): the new count"
                )
            }
        }
    }
}
