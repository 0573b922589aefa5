import CBOR
import EnclaveRuntime
import EnclaveWire
import Logging
import NitroAttestation
import SecureModule
import WebAuthn

/// The key service: the `keys` job workload. Its operations are `key.create`, `key.list`, `key.describe`,
/// `key.rotate`, `key.configure`, `key.delete`, `key.sign`, `key.verify`, `key.encrypt`, `key.decrypt`,
/// `key.rewrap`, and `credential.add`, `credential.revoke`, `credential.list` (docs/keys.md). `echo` and `sha256`
/// go to the runtime's test workload (cheap probes of the path); nothing else does.
///
/// Every operation that uses or changes a key or a credential is an **action**: its body is a `SealedRequest`
/// addressed to this boot and signed by one of the tenant's credentials over the `Action` digest. The enclave
/// checks all of it before it acts, runs each action at most once in its boot (`ActionLedger`), and seals the
/// result to the key the client put inside the request. `list`, `describe`, `verify` and `credential.list` need
/// only the caller's token; their body may be plain JSON or sealed (then their result is sealed too).
public struct KeyServiceWorkload: JobWorkload {
    public let name = "keys"
    let vault: KeyVault
    let identity: EnclaveIdentity
    let ledger: ActionLedger
    let clock: @Sendable () -> UInt64
    let fallback = TestJobWorkload()

    /// Longest an action may live (its expiry at most this far ahead).
    public static let maxActionLifetimeMs: UInt64 = 15 * 60 * 1000

    /// The operations that must be signed actions.
    public static let actions: Set<String> = [
        "key.create", "key.rotate", "key.configure", "key.delete", "key.sign", "key.encrypt", "key.decrypt", "key.rewrap",
        "credential.add", "credential.revoke",
    ]
    /// The operations that change a key (the others only use it).
    public static let changes: Set<String> = ["key.create", "key.rotate", "key.configure", "key.delete"]
    /// The operations a token alone may call.
    public static let reads: Set<String> = ["key.list", "key.describe", "key.verify", "credential.list"]

    public init(vault: KeyVault, identity: EnclaveIdentity, ledger: ActionLedger = ActionLedger(), clock: @escaping @Sendable () -> UInt64 = { KeyServiceWorkload.now() }) {
        self.vault = vault
        self.identity = identity
        self.ledger = ledger
        self.clock = clock
    }

    /// What `prepare` read of a job.
    struct Prepared: Sendable {
        var operation: String
        var input: Input?
        /// The key the result is sealed to (nil: the request was not sealed, the result is not either).
        var reply: [UInt8]?
        var action: Action?
        var approvals: [Approval] = []
        /// A refusal decided before anything ran.
        var refusal: KeyServiceError?
    }

    public func prepare(_ job: JobRequest) async -> PreparedJob {
        let op = job.operation
        guard Self.actions.contains(op) || Self.reads.contains(op) else { return PreparedJob(request: job) }
        var p = Prepared(operation: op)
        do throws(KeyServiceError) {
            if let first = job.body.first, first >= 0xA0 && first <= 0xBF {
                try open(job, into: &p)
            } else {
                guard !Self.actions.contains(op) else {
                    throw KeyServiceError("actionMissing", "\(op) must be a request sealed to the enclave and signed by one of the tenant's credentials")
                }
                p.input = try Input(job.body)
            }
        } catch {
            p.refusal = error
        }
        let scope: JobScope
        // Credential changes, and passkey approvals (their counters are written back), go in order per tenant.
        if (op.hasPrefix("credential.") && op != "credential.list") || p.approvals.contains(where: { $0.authenticatorData != nil }) {
            scope = .tenant
        } else if let name = p.input?.object["name"]?.string {
            scope = Self.changes.contains(op) ? .keyChange(name) : .keyUse(name)
        } else {
            scope = .independent
        }
        return PreparedJob(request: job, scope: scope, state: p)
    }

    /// Opens a sealed request addressed to this boot.
    private func open(_ job: JobRequest, into p: inout Prepared) throws(KeyServiceError) {
        let request: SealedRequest
        do { request = try SealedRequest(encoded: job.body) } catch { throw KeyServiceError("badRequest", "not a sealed request: \(error)") }
        guard request.boot == identity.bootHash else {
            throw KeyServiceError("otherBoot", "the request is addressed to boot \(Hex.encode(request.boot).prefix(16))…, not this one: attest again and sign for this boot")
        }
        guard let deployment = identity.deployment else { throw KeyServiceError("internal", "this boot holds no deployment") }
        let now = clock()
        guard request.expiry > now else { throw KeyServiceError("actionExpired", "the request expired \((now - request.expiry) / 1000) s ago") }
        guard request.expiry <= now + Self.maxActionLifetimeMs else {
            throw KeyServiceError("badRequest", "an expiry is at most \(Self.maxActionLifetimeMs / 60_000) minutes ahead")
        }
        let info = SealedRequest.info(deployment: deployment, tenant: job.tenant, operation: job.operation, requestID: job.requestID)
        let inner: SealedRequest.Inner
        do { inner = try SealedRequest.Inner(encoded: try identity.openRequest(request, info: info)) } catch {
            throw KeyServiceError("sealedRequestInvalid", "the request does not open for this boot, deployment, tenant, operation and request id")
        }
        p.reply = inner.reply
        if !request.approvals.isEmpty {
            p.action = request.action(deployment: deployment, tenant: job.tenant, operation: job.operation, requestID: job.requestID)
            p.approvals = request.approvals
        }
        p.input = try Input(inner.body)
    }

    public func perform(_ job: PreparedJob, store: any BlobStore) async -> JobOutcome {
        let tenant = job.request.tenant
        // Every answer names the tenant's root, refusals included, so that a client notices a tenant made by
        // someone else whatever it asked.
        let credentials: Result<CredentialSet?, KeyServiceError>
        do { credentials = .success(try await vault.credentials(tenant).set) } catch { credentials = .failure(error) }
        var root = (try? credentials.get())?.flatMap(\.root)
        guard let p = job.state as? Prepared else {
            var outcome: JobOutcome
            if ["echo", "sha256"].contains(job.request.operation) {
                outcome = await fallback.perform(job, store: store)
            } else {
                outcome = .failure(
                    "unknownOperation", "the key service has \((Self.actions.union(Self.reads)).sorted().joined(separator: ", ")) (and echo, sha256)")
            }
            outcome.tenantRoot = root
            return outcome
        }
        var approvers: [[UInt8]]?
        do throws(KeyServiceError) {
            let set = try credentials.get()
            if let refusal = p.refusal { throw refusal }
            if Self.actions.contains(p.operation) {
                let (ids, counters) = try authorise(p, credentials: set)
                approvers = ids
                root = root ?? ids.first
                if !counters.isEmpty, set != nil { try await keepCounters(counters, tenant: tenant) }
            }
            let output: [UInt8]
            if p.operation.hasPrefix("credential.") {
                output = try await performCredential(String(p.operation.dropFirst(11)), tenant: tenant, p.input ?? Input.empty)
            } else {
                output = try await performKey(String(p.operation.dropFirst(4)), tenant: tenant, p.input ?? Input.empty, approvers: approvers ?? [])
            }
            return answer(job.request, p, status: "ok", output, root: root, approvers: approvers)
        } catch {
            return answer(job.request, p, status: error.code, Array(error.message.utf8), root: root, approvers: approvers)
        }
    }

    /// Checks every approval of the action: each by a current credential of the tenant (or, for a tenant's first
    /// `credential.add`, by the credential being added), each signature over this action (a passkey's assertion
    /// with the action digest as its challenge, checked as W3C WebAuthn §7.2 says); then consumes the action.
    /// The distinct approvers' ids, in order, and the passkeys' new signature counters.
    private func authorise(_ p: Prepared, credentials: CredentialSet?) throws(KeyServiceError) -> ([[UInt8]], [[UInt8]: UInt32]) {
        guard let action = p.action, !p.approvals.isEmpty else {
            throw KeyServiceError("actionMissing", "\(p.operation) must be signed by one of the tenant's credentials")
        }
        let digest = action.digest
        var approvers: [[UInt8]] = []
        var counters: [[UInt8]: UInt32] = [:]
        for approval in p.approvals {
            let id = approval.credential
            let credential: Credential
            var settings = credentials?.webauthn
            var stored: UInt32 = 0
            if let set = credentials {
                guard let entry = set.entry(id) else { throw KeyServiceError("unknownCredential", "the tenant has no credential \(Hex.encode(id).prefix(16))…") }
                guard entry.revoked == nil else { throw KeyServiceError("credentialRevoked", "credential \(Hex.encode(id).prefix(16))… was revoked") }
                credential = entry.credential
                stored = counters[id] ?? entry.signCount
            } else {
                // A tenant comes into being with its first credential, which approves its own addition.
                guard p.operation == "credential.add", let input = p.input, let (first, firstSettings) = try? Self.newCredential(input, settings: nil), first.id == id
                else {
                    throw KeyServiceError("noCredentials", "the tenant has no credential yet: its first action is credential.add, approved by the credential it adds")
                }
                credential = first
                settings = firstSettings
            }
            if credential.kind == .passkey {
                counters[id] = try verifyPasskey(approval, credential: credential, settings: settings, digest: digest, storedSignCount: stored)
            } else {
                guard approval.authenticatorData == nil, let kind = CredentialKey.Kind(rawValue: credential.kind.rawValue),
                    CredentialVerifier.verify(kind: kind, spki: credential.spki, signature: approval.signature, message: digest)
                else { throw KeyServiceError("badSignature", "the signature is not credential \(Hex.encode(id).prefix(16))…'s over this action") }
            }
            // The same credential twice counts once.
            if !approvers.contains(id) { approvers.append(id) }
        }
        switch ledger.consume(digest, expiry: action.expiry, now: clock()) {
        case .fresh: return (approvers, counters)
        case .replayed: throw KeyServiceError("actionReplayed", "this action has already run in this boot")
        case .full: throw KeyServiceError("busy", "too many unexpired actions; try again shortly")
        }
    }

    /// A passkey's approval: its assertion over the action digest; the counter to keep. Each WebAuthn rule that
    /// fails is refused with that rule's code (docs/webauthn.md).
    private func verifyPasskey(
        _ approval: Approval, credential: Credential, settings: CredentialSet.WebAuthnSettings?, digest: [UInt8], storedSignCount: UInt32
    ) throws(KeyServiceError) -> UInt32 {
        guard let authenticatorData = approval.authenticatorData, let clientDataJSON = approval.clientDataJSON else {
            throw KeyServiceError("badSignature", "a passkey approves with an assertion (authenticator data and client data)")
        }
        guard let settings else { throw KeyServiceError("internal", "a passkey without the tenant's WebAuthn settings") }
        do throws(WebAuthnError) {
            guard let alg = credential.algorithm.flatMap(COSEAlgorithm.init(rawValue:)) else {
                throw WebAuthnError(.unsupportedAlgorithm, "the stored passkey has no known algorithm")
            }
            let key = try CredentialPublicKey(algorithm: alg, spki: credential.spki)
            return try WebAuthnVerifier(policy: Self.policy(settings)).verifyAssertion(
                authenticatorData: authenticatorData, clientDataJSON: clientDataJSON, signature: approval.signature, challenge: digest,
                publicKey: key, storedSignCount: storedSignCount
            ).signCount
        } catch {
            throw KeyServiceError(error.code.rawValue, "passkey \(Hex.encode(credential.id).prefix(16))…: \(error.message)")
        }
    }

    /// Writes the passkeys' new signature counters into the tenant's credential set.
    private func keepCounters(_ counters: [[UInt8]: UInt32], tenant: String) async throws(KeyServiceError) {
        guard counters.values.contains(where: { $0 != 0 }) else { return }
        _ = try await vault.updateCredentials(tenant) { (current: CredentialSet?) throws(KeyServiceError) -> CredentialSet in
            guard var set = current else { throw KeyServiceError("noCredentials", "the tenant has no credential") }
            for i in set.entries.indices {
                if let c = counters[set.entries[i].credential.id], c > set.entries[i].signCount { set.entries[i].signCount = c }
            }
            return set
        }
    }

    /// The outcome, its result sealed to the client's key when the request was sealed.
    private func answer(_ job: JobRequest, _ p: Prepared, status: String, _ result: [UInt8], root: [UInt8]?, approvers: [[UInt8]]?) -> JobOutcome {
        guard let reply = p.reply, let deployment = identity.deployment else {
            return JobOutcome(status: status, result: result, tenantRoot: root, approvers: approvers)
        }
        let info = SealedResult.info(deployment: deployment, tenant: job.tenant, operation: job.operation, requestID: job.requestID)
        do {
            let (enc, ciphertext) = try HPKEX25519.seal(to: reply, info: info, plaintext: result)
            return JobOutcome(status: status, result: SealedResult(enc: enc, ciphertext: ciphertext).encoded, tenantRoot: root, approvers: approvers)
        } catch {
            return JobOutcome(status: "sealedRequestInvalid", result: Array("the reply key is not an X25519 key".utf8), tenantRoot: root, approvers: approvers)
        }
    }
}
