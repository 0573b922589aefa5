import CloisterClient
import CloisterTestSupport
import EnclaveWire
import Foundation
import NitroAttestation
import SecureModule
import Testing

@testable import EnclaveRuntime
@testable import KeyService

/// Passkeys as tenant credentials, through the key service with a software passkey: registration, approvals of
/// actions (the action digest is the challenge), the signature counter, and each WebAuthn rule refused by its code.
@Suite struct PasskeyTests {
    typealias Enclave = ActionTests.Enclave
    static var settings: [String: Any] { ["rpId": "example.com", "origins": ["https://example.com"], "userVerification": "required"] }

    /// A call approved by `approvals` (built over its digest by `make`).
    static func approved(
        _ e: Enclave, _ op: String, _ body: [String: Any], by make: ([UInt8]) throws -> [Approval]
    ) throws -> (JobRequest, SealedCall) {
        let (job, call) = try e.call(op, body, by: nil)
        let body = try call.body(adding: try make(call.action.digest))
        return (JobRequest(requestID: job.requestID, tenant: job.tenant, operation: job.operation, body: body), call)
    }

    /// Registers `passkey` as the tenant's first credential, approved by its own assertion.
    static func register(_ e: Enclave, _ passkey: inout SoftPasskey) async throws -> JobOutcome {
        let (object, clientData) = passkey.registration()
        let body: [String: Any] = [
            "kind": "passkey", "attestationObject": Data(object).base64EncodedString(), "clientDataJSON": Data(clientData).base64EncodedString(),
            "webauthn": settings, "label": "laptop",
        ]
        var p = passkey
        let (job, _) = try approved(e, "credential.add", body) { [try p.approve($0)] }
        passkey = p
        return await e.run(job)
    }

    @Test func aPasskeyMakesATenantAndApprovesItsActions() async throws {
        let e = try await Enclave()
        var passkey = try SoftPasskey()
        let registered = try await Self.register(e, &passkey)
        #expect(registered.status == "ok", "\(registered)")
        #expect(registered.tenantRoot == passkey.id)

        let (create, _) = try Self.approved(e, "key.create", ["name": "k", "type": "ed25519"]) { [try passkey.approve($0)] }
        #expect(await e.run(create).status == "ok")
        let (sign, call) = try Self.approved(e, "key.sign", ["name": "k", "input": "aGk="]) { [try passkey.approve($0)] }
        let signed = await e.run(sign)
        #expect(signed.status == "ok")
        #expect(signed.approvers == [passkey.id])
        #expect(String(decoding: try call.open(signed.result), as: UTF8.self).contains("signature"))

        // The counter is kept: an assertion whose counter does not grow is refused (a cloned authenticator).
        let (stale, _) = try Self.approved(e, "key.sign", ["name": "k", "input": "aGk="]) { [try passkey.approve($0, counter: 1)] }
        #expect(await e.run(stale).status == "signCountNotIncreased")
        let list = try JSONSerialization.jsonObject(with: Data(await e.run(JobRequest(requestID: "l", tenant: "acme", operation: "credential.list", body: [])).result)) as! [String: Any]
        let entry = (list["credentials"] as! [[String: Any]])[0]
        #expect(entry["kind"] as? String == "passkey")
        #expect(entry["webauthnId"] as? String == Data(passkey.credentialID).base64EncodedString())
        #expect((entry["signCount"] as? Int ?? 0) >= 3)
    }

    @Test(arguments: [
        ("another origin", "originNotAllowed"), ("no user verification", "userNotVerified"), ("no user presence", "userNotPresent"),
        ("another relying party", "rpIdHashMismatch"), ("another action's digest", "challengeMismatch"), ("a registration's type", "typeMismatch"),
        ("a duplicated member", "clientDataDuplicateMember"), ("a cross-origin frame", "crossOrigin"), ("another signature", "signatureInvalid"),
    ])
    func eachRuleIsRefusedByItsCode(mutation: String, code: String) async throws {
        let e = try await Enclave()
        var passkey = try SoftPasskey()
        #expect(try await Self.register(e, &passkey).status == "ok")
        let (job, _) = try Self.approved(e, "key.create", ["name": "k", "type": "ed25519"]) { digest in
            switch mutation {
            case "another origin": return [try passkey.approve(digest, origin: "https://evil.example")]
            case "no user verification": return [try passkey.approve(digest, flags: 0x01)]
            case "no user presence": return [try passkey.approve(digest, flags: 0x04)]
            case "another relying party": return [try passkey.approve(digest, rpID: "evil.example")]
            case "another action's digest": return [try passkey.approve(Random.bytes(32))]
            case "a registration's type": return [try passkey.approve(digest, type: "webauthn.create")]
            case "a duplicated member": return [try passkey.approve(digest, extra: #","type":"webauthn.get""#)]
            case "a cross-origin frame": return [try passkey.approve(digest, extra: #","topOrigin":"https://evil.example""#)]
            default:
                var a = try passkey.approve(digest)
                a.signature = try passkey.key.sign(Random.bytes(10))
                return [a]
            }
        }
        #expect(await e.run(job).status == code, "\(mutation)")
        // Browsers add members of their own: those are ignored.
        let (extra, _) = try Self.approved(e, "key.create", ["name": "k2", "type": "ed25519"]) {
            [try passkey.approve($0, extra: #","other_keys_can_be_added_here":"do not compare clientDataJSON against a template""#)]
        }
        #expect(await e.run(extra).status == "ok")
    }

    @Test func aPasskeyAndAProgramKeyMeetATwoOfTwoQuorum() async throws {
        let e = try await Enclave()
        var passkey = try SoftPasskey()
        #expect(try await Self.register(e, &passkey).status == "ok")
        let program = try CredentialKey.generate(.ed25519)
        let add = ["kind": "ed25519", "publicKey": Data(program.spki).base64EncodedString()]
        let (added, _) = try Self.approved(e, "credential.add", add) { [try passkey.approve($0)] }
        #expect(await e.run(added).status == "ok")
        let (create, _) = try Self.approved(e, "key.create", ["name": "vault", "type": "ecdsa-p256"]) { [try passkey.approve($0)] }
        #expect(await e.run(create).status == "ok")
        let quorum: [String: Any] = ["name": "vault", "quorum": ["k": 2, "credentials": [Hex.encode(passkey.id), Hex.encode(SHA.sha256(program.spki))]]]
        let (configure, _) = try Self.approved(e, "key.configure", quorum) { [try passkey.approve($0)] }
        #expect(await e.run(configure).status == "ok")
        let sign: [String: Any] = ["name": "vault", "input": "aGk="]
        let (one, _) = try Self.approved(e, "key.sign", sign) { [try passkey.approve($0)] }
        #expect(await e.run(one).status == "quorumNotMet")
        let (both, _) = try Self.approved(e, "key.sign", sign) { digest in
            [try passkey.approve(digest), Approval(credential: SHA.sha256(program.spki), signature: try program.sign(digest))]
        }
        let outcome = await e.run(both)
        #expect(outcome.status == "ok")
        #expect(outcome.approvers == [passkey.id, SHA.sha256(program.spki)])
    }
}
