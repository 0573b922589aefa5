import CloisterClient
import CloisterTestSupport
import Crypto
import EnclaveWire
import Foundation
import Logging
import NitroAttestation
import SecureModule
import Testing

@testable import EnclaveRuntime
@testable import KeyService

/// The key service's actions in process, with a real boot identity (software secure module), a real master and the
/// client library's `SealedCall`: every way a host could forge, replay or redirect an action is refused inside the
/// enclave with its own code.
@Suite struct ActionTests {
    /// One enclave boot with its key service, over a store the test can edit.
    final class Enclave: @unchecked Sendable {
        static let root = try! EmulatedRoot.loadOrCreate(directory: FileManager.default.temporaryDirectory.appendingPathComponent("cloister-actions-\(UUID().uuidString)").path).root
        let store: MemoryStore
        let master: MasterSecret
        let identity: EnclaveIdentity
        let workload: KeyServiceWorkload
        var now: UInt64 = KeyServiceWorkload.now()

        /// The store index the vault reads through, when `tracked` (as in the enclave process).
        let tracked: TrackedStore?

        /// `memory` bounds the vault's caches and the action ledger; `tracked` puts the store index (`TrackedStore`,
        /// bounded by `memory.storeIndexBytes`) between the vault and the store, as the enclave process does.
        init(
            store: MemoryStore = MemoryStore(), master: MasterSecret? = nil, limits: KeyVault.Limits = KeyVault.Limits(), memory: EnclaveMemory = EnclaveMemory(),
            tracked: Bool = false
        ) async throws {
            self.store = store
            let master = try master ?? MasterSecret(Random.bytes(32))
            self.master = master
            let module = NSMClient(transport: try SoftwareNSM(root: Self.root, image: EnclaveImage(executable: Array("build".utf8), manifest: [])))
            identity = try await EnclaveIdentity.create(module: module, manifestBytes: [], deployment: master.commitment)
            var vaultStore: any BlobStore = store
            if tracked {
                let index = TrackedStore(inner: store, master: master, maxIndexBytes: memory.storeIndexBytes)
                try await index.load(headSize: 0, root: nil)
                vaultStore = index
                self.tracked = index
            } else {
                self.tracked = nil
            }
            let clock = Clock()
            workload = KeyServiceWorkload(
                vault: KeyVault(store: vaultStore, master: master, logger: Logger(label: "test"), limits: limits, memory: memory), identity: identity,
                ledger: ActionLedger(maxBytes: memory.actionLedgerBytes), clock: { clock.now })
            self.clock = clock
        }

        let clock: Clock
        final class Clock: @unchecked Sendable { var now: UInt64 = KeyServiceWorkload.now() }

        /// A sealed, signed call for this boot.
        func call(
            _ op: String, _ body: [String: Any], tenant: String = "acme", id: String = CloisterClient.randomRequestID(), by key: CredentialKey?,
            boot: [UInt8]? = nil, expiresIn: Int64 = 60_000, approvers: [CredentialKey] = []
        ) throws -> (JobRequest, SealedCall) {
            let json = Array(try JSONSerialization.data(withJSONObject: body))
            let call = try SealedCall(
                body: json, tenant: tenant, operation: op, requestID: id, deployment: master.commitment, boot: boot ?? identity.bootHash,
                hpke: identity.claims.hpkePublicKey, expiry: UInt64(Int64(clock.now) + expiresIn), credentials: (key.map { [$0] } ?? []) + approvers)
            return (JobRequest(requestID: id, tenant: tenant, operation: op, body: call.body), call)
        }

        /// Runs jobs as one pull; their outcomes in order.
        func run(_ jobs: [JobRequest]) async -> [JobOutcome] {
            var prepared: [PreparedJob] = []
            for j in jobs { prepared.append(await workload.prepare(j)) }
            let workload = self.workload
            let store = self.store
            return await PullSchedule.run(prepared) { await workload.perform($0, store: store) }
        }

        func run(_ job: JobRequest) async -> JobOutcome { await run([job])[0] }

        /// Runs a signed call and returns its opened JSON result, or its status.
        func ok(_ op: String, _ body: [String: Any], tenant: String = "acme", by key: CredentialKey) async throws -> [String: Any] {
            let (job, call) = try call(op, body, tenant: tenant, by: key)
            let outcome = await run(job)
            let plain = try call.open(outcome.result)
            guard outcome.status == "ok" else { throw Refused(status: outcome.status, message: String(decoding: plain, as: UTF8.self)) }
            return try JSONSerialization.jsonObject(with: Data(plain)) as! [String: Any]
        }

        /// Registers `key` as a tenant's first credential.
        func register(_ key: CredentialKey, tenant: String = "acme") async throws -> [String: Any] {
            try await ok("credential.add", ["kind": key.kind.rawValue, "publicKey": Data(key.spki).base64EncodedString()], tenant: tenant, by: key)
        }
    }

    struct Refused: Error { let status: String; let message: String }

    static func status(_ e: Enclave, _ job: JobRequest) async -> String { await e.run(job).status }

    @Test func aTenantComesIntoBeingWithItsFirstCredential() async throws {
        let e = try await Enclave()
        let key = try CredentialKey.generate(.ed25519)
        // Before it, nothing: not even a key made by someone else's key.
        let stranger = try CredentialKey.generate(.ecdsaP256)
        #expect(await Self.status(e, try e.call("key.create", ["name": "k", "type": "ed25519"], by: stranger).0) == "noCredentials")
        // Adding a first credential must be signed by that very credential.
        let spki = Data(key.spki).base64EncodedString()
        #expect(await Self.status(e, try e.call("credential.add", ["kind": "ed25519", "publicKey": spki], by: stranger).0) == "noCredentials")

        let (job, call) = try e.call("credential.add", ["kind": "ed25519", "publicKey": spki, "label": "laptop"], by: key)
        let outcome = await e.run(job)
        #expect(outcome.status == "ok")
        let id = SHA.sha256(key.spki)
        #expect(outcome.tenantRoot == id)
        #expect(outcome.approvers == [id])
        let listed = try JSONSerialization.jsonObject(with: Data(try call.open(outcome.result))) as! [String: Any]
        #expect(listed["root"] as? String == Hex.encode(id))
        // Now the same key acts; another key does not, and cannot add itself.
        _ = try await e.ok("key.create", ["name": "k", "type": "ed25519"], by: key)
        #expect(await Self.status(e, try e.call("key.sign", ["name": "k", "input": "aGk="], by: stranger).0) == "unknownCredential")
        let selfAdd = ["kind": "ecdsa-p256", "publicKey": Data(stranger.spki).base64EncodedString()]
        #expect(await Self.status(e, try e.call("credential.add", selfAdd, by: stranger).0) == "unknownCredential")
        // Another tenant of the enclave is another set: the key is unknown there.
        #expect(await Self.status(e, try e.call("key.sign", ["name": "k", "input": "aGk="], tenant: "other", by: key).0) == "noCredentials")
    }

    @Test func whatTheOperatorCanSendIsRefused() async throws {
        let e = try await Enclave()
        let key = try CredentialKey.generate(.ecdsaP256)
        _ = try await e.register(key)
        _ = try await e.ok("key.create", ["name": "signer", "type": "ed25519"], by: key)
        let sign: [String: Any] = ["name": "signer", "input": Data("pay 1000000 to mallory".utf8).base64EncodedString()]

        // A job the host writes itself: plain JSON, a sealed request with no signature, its own key.
        let plain = JobRequest(requestID: "op-1", tenant: "acme", operation: "key.sign", body: Array(try JSONSerialization.data(withJSONObject: sign)))
        #expect(await Self.status(e, plain) == "actionMissing")
        #expect(await Self.status(e, try e.call("key.sign", sign, by: nil).0) == "actionMissing")
        #expect(await Self.status(e, try e.call("key.sign", sign, by: CredentialKey.generate(.ed25519)).0) == "unknownCredential")

        // The tenant's real signed request, edited by the host: another tenant, operation or request id (they are in
        // the HPKE info and the digest), another expiry (in the digest), another credential id, a signature of
        // another request.
        let (job, _) = try e.call("key.sign", sign, id: "real-1", by: key)
        var otherTenant = job
        otherTenant.tenant = "other"
        #expect(await Self.status(e, otherTenant) == "sealedRequestInvalid")
        var otherID = job
        otherID.requestID = "real-2"
        #expect(await Self.status(e, otherID) == "sealedRequestInvalid")
        var request = try SealedRequest(encoded: job.body)
        request.expiry += 1
        #expect(await Self.status(e, JobRequest(requestID: job.requestID, tenant: "acme", operation: "key.sign", body: request.encoded)) == "badSignature")
        var swapped = try SealedRequest(encoded: job.body)
        swapped.approvals = try SealedRequest(encoded: try e.call("key.sign", sign, id: "real-1", by: key).0.body).approvals
        #expect(await Self.status(e, JobRequest(requestID: job.requestID, tenant: "acme", operation: "key.sign", body: swapped.encoded)) == "badSignature")
        var flipped = job.body
        flipped[flipped.count / 2] ^= 1
        #expect(await ["sealedRequestInvalid", "badRequest", "badSignature"].contains(Self.status(e, JobRequest(requestID: job.requestID, tenant: "acme", operation: "key.sign", body: flipped))))
        // The untouched request still runs, once.
        #expect(await Self.status(e, job) == "ok")
    }

    @Test func anActionRunsOnceInItsBootAndNeverInAnother() async throws {
        let e = try await Enclave()
        let key = try CredentialKey.generate(.ecdsaP256)
        _ = try await e.register(key)
        _ = try await e.ok("key.create", ["name": "k", "type": "ecdsa-p256"], by: key)
        let (job, _) = try e.call("key.sign", ["name": "k", "input": "aGk="], by: key)
        #expect(await Self.status(e, job) == "ok")
        #expect(await Self.status(e, job) == "actionReplayed")
        // Both copies in one pull: one runs.
        let (twice, _) = try e.call("key.sign", ["name": "k", "input": "aGk="], by: key)
        #expect(await e.run([twice, twice]).map(\.status).sorted() == ["actionReplayed", "ok"])

        // A malleated ECDSA signature (s → n − s) is another byte string but the same action.
        let (fresh, _) = try e.call("key.sign", ["name": "k", "input": "aGk="], by: key)
        var request = try SealedRequest(encoded: fresh.body)
        let malleated = try Self.malleate(request.approvals[0].signature)
        #expect(malleated != request.approvals[0].signature)
        #expect(await Self.status(e, fresh) == "ok")
        request.approvals[0].signature = malleated
        #expect(await Self.status(e, JobRequest(requestID: fresh.requestID, tenant: "acme", operation: "key.sign", body: request.encoded)) == "actionReplayed")

        // Another boot of the same deployment (the enclave restarted): the action is addressed to the old one.
        let next = try await Enclave(store: e.store, master: e.master)
        #expect(await Self.status(next, job) == "otherBoot")
        // Its credentials and keys are the same; an action signed for it runs.
        _ = try await next.ok("key.sign", ["name": "k", "input": "aGk="], by: key)
        // A request for a boot that never was, expired, or too far ahead.
        #expect(await Self.status(e, try e.call("key.sign", ["name": "k", "input": "aGk="], by: key, boot: Random.bytes(32)).0) == "otherBoot")
        #expect(await Self.status(e, try e.call("key.sign", ["name": "k", "input": "aGk="], by: key, expiresIn: -1).0) == "actionExpired")
        #expect(await Self.status(e, try e.call("key.sign", ["name": "k", "input": "aGk="], by: key, expiresIn: 16 * 60_000).0) == "badRequest")
    }

    @Test func aRevokedCredentialActsNoMore() async throws {
        let e = try await Enclave()
        let first = try CredentialKey.generate(.ed25519)
        let second = try CredentialKey.generate(.ecdsaP256)
        _ = try await e.register(first)
        _ = try await e.ok("credential.add", ["kind": "ecdsa-p256", "publicKey": Data(second.spki).base64EncodedString(), "label": "ci"], by: first)
        _ = try await e.ok("key.create", ["name": "k", "type": "aes256-gcm"], by: second)
        let revoked = try await e.ok("credential.revoke", ["id": Hex.encode(SHA.sha256(first.spki))], by: second)
        #expect((revoked["credentials"] as! [[String: Any]]).first { $0["id"] as? String == Hex.encode(SHA.sha256(first.spki)) }?["revoked"] != nil)
        #expect(await Self.status(e, try e.call("key.rotate", ["name": "k"], by: first).0) == "credentialRevoked")
        // The root stays the tenant's identity.
        let outcome = await e.run(try e.call("key.rotate", ["name": "k"], by: second).0)
        #expect(outcome.status == "ok")
        #expect(outcome.tenantRoot == SHA.sha256(first.spki))
        #expect(outcome.approvers == [SHA.sha256(second.spki)])
        // A credential revoked earlier in the same pull does not act later in it.
        let third = try CredentialKey.generate(.ed25519)
        _ = try await e.ok("credential.add", ["kind": "ed25519", "publicKey": Data(third.spki).base64EncodedString()], by: second)
        let results = await e.run([
            try e.call("credential.revoke", ["id": Hex.encode(SHA.sha256(third.spki))], by: second).0,
            try e.call("key.rotate", ["name": "k"], by: third).0,
        ])
        #expect(results.map(\.status) == ["ok", "credentialRevoked"])
    }

    @Test func receiptOrderIsExecutionOrderForAKey() async throws {
        for deleteFirst in [true, false] {
            let e = try await Enclave()
            let key = try CredentialKey.generate(.ed25519)
            _ = try await e.register(key)
            _ = try await e.ok("key.create", ["name": "k", "type": "ed25519"], by: key)
            _ = try await e.ok("key.configure", ["name": "k", "deletionAllowed": true], by: key)
            let delete = try e.call("key.delete", ["name": "k"], by: key).0
            let sign = try e.call("key.sign", ["name": "k", "input": "aGk="], by: key).0
            let statuses = await e.run(deleteFirst ? [delete, sign] : [sign, delete]).map(\.status)
            #expect(statuses == (deleteFirst ? ["ok", "keyNotFound"] : ["ok", "ok"]), "delete first: \(deleteFirst)")
        }
    }

    @Test func resultsAreSealedToTheClient() async throws {
        let e = try await Enclave()
        let key = try CredentialKey.generate(.ed25519)
        _ = try await e.register(key)
        _ = try await e.ok("key.create", ["name": "box", "type": "aes256-gcm"], by: key)
        let pin = Data("4071".utf8).base64EncodedString()
        let encrypted = try await e.ok("key.encrypt", ["name": "box", "plaintext": pin], by: key)
        let (job, call) = try e.call("key.decrypt", ["name": "box", "ciphertext": encrypted["ciphertext"]!], by: key)
        #expect(!Self.contains(job.body, Array(pin.utf8)))
        let outcome = await e.run(job)
        #expect(outcome.status == "ok")
        #expect(!Self.contains(outcome.result, Array(pin.utf8)) && !Self.contains(outcome.result, Array("4071".utf8)))
        let opened = try JSONSerialization.jsonObject(with: Data(try call.open(outcome.result))) as! [String: Any]
        #expect(opened["plaintext"] as? String == pin)
        // Errors after opening are sealed too: their message is the client's business.
        let (missing, missingCall) = try e.call("key.decrypt", ["name": "secret-project", "ciphertext": "cloister:v1:AAAA"], by: key)
        let refused = await e.run(missing)
        #expect(refused.status == "keyNotFound")
        #expect(!Self.contains(refused.result, Array("secret-project".utf8)))
        #expect(String(decoding: try missingCall.open(refused.result), as: UTF8.self).contains("secret-project"))
        // Token-only reads work without a signature, plain or sealed.
        let list = JobRequest(requestID: "l1", tenant: "acme", operation: "key.list", body: Array("{}".utf8))
        #expect(await e.run(list).status == "ok")
        let (sealedList, listCall) = try e.call("key.list", [:], by: nil)
        #expect(try JSONSerialization.jsonObject(with: Data(try listCall.open(await e.run(sealedList).result))) as? [String: [String]] == ["keys": ["box"]])
    }

    @Test func aQuorumOfTwoOutOfThreeSignsAndNothingLessDoes() async throws {
        let e = try await Enclave()
        let (a, b, c) = (try CredentialKey.generate(.ed25519), try CredentialKey.generate(.ecdsaP256), try CredentialKey.generate(.ed25519))
        _ = try await e.register(a)
        for k in [b, c] { _ = try await e.ok("credential.add", ["kind": k.kind.rawValue, "publicKey": Data(k.spki).base64EncodedString()], by: a) }
        let ids = [a, b, c].map { Hex.encode(SHA.sha256($0.spki)) }
        _ = try await e.ok("key.create", ["name": "vault", "type": "ecdsa-p256"], by: a)
        let configured = try await e.ok("key.configure", ["name": "vault", "quorum": ["k": 2, "credentials": ids]], by: a)
        #expect((configured["quorum"] as? [String: Any])?["k"] as? Int == 2)
        let sign: [String: Any] = ["name": "vault", "input": "aGk="]

        // One approval, or one approval given twice: not two.
        #expect(await Self.status(e, try e.call("key.sign", sign, by: a).0) == "quorumNotMet")
        #expect(await Self.status(e, try e.call("key.sign", sign, by: a, approvers: [a]).0) == "quorumNotMet")
        // Two distinct approvers sign, and the receipt names both.
        let two = await e.run(try e.call("key.sign", sign, by: a, approvers: [b]).0)
        #expect(two.status == "ok")
        #expect(two.approvers == [SHA.sha256(a.spki), SHA.sha256(b.spki)])
        // A policy change needs the quorum too.
        #expect(await Self.status(e, try e.call("key.configure", ["name": "vault", "quorum": ["k": 0]], by: b).0) == "quorumNotMet")
        // A revoked approver's approval does not count (it is refused).
        _ = try await e.ok("credential.revoke", ["id": ids[2]], by: a)
        #expect(await Self.status(e, try e.call("key.sign", sign, by: a, approvers: [c]).0) == "credentialRevoked")
        // Approvals gathered for one boot do not reach k in another.
        let (gathered, _) = try e.call("key.sign", sign, by: a, approvers: [b])
        let next = try await Enclave(store: e.store, master: e.master)
        #expect(await Self.status(next, gathered) == "otherBoot")
        #expect(await Self.status(e, gathered) == "ok")
    }

    @Test func pullScheduleOrdersByKeyAndTenant() {
        let jobs: [(tenant: String, scope: JobScope)] = [
            ("a", .keyChange("x")), ("a", .keyUse("x")), ("a", .keyUse("x")), ("b", .keyChange("x")), ("a", .keyChange("x")),
            ("a", .keyUse("y")), ("a", .tenant), ("a", .independent), ("a", .keyUse("x")), ("b", .keyUse("x")),
        ]
        // Uses of x wait for its change, not for each other; the next change of x waits for them all; another
        // tenant's x is another key; the barrier waits for everything of its tenant before it, and all after wait for it.
        #expect(PullSchedule.dependencies(jobs) == [[], [0], [0], [], [0, 1, 2], [], [0, 1, 2, 4, 5], [6], [6], [3]])
    }

    /// `s → n − s` of a DER ECDSA P-256 signature.
    static func malleate(_ der: [UInt8]) throws -> [UInt8] {
        let raw = Array(try P256.Signing.ECDSASignature(derRepresentation: der).rawRepresentation)
        let n: [UInt8] = Hex.decode("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551")!
        var s = Array(raw[32...])
        var borrow = 0
        for i in stride(from: 31, through: 0, by: -1) {
            let d = Int(n[i]) - Int(s[i]) - borrow
            s[i] = UInt8((d + 256) % 256)
            borrow = d < 0 ? 1 : 0
        }
        return Array(try P256.Signing.ECDSASignature(rawRepresentation: raw[..<32] + s).derRepresentation)
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        haystack.count >= needle.count && (0...(haystack.count - needle.count)).contains { Array(haystack[$0..<$0 + needle.count]) == needle }
    }
}
