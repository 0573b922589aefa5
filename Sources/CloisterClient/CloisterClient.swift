import EnclaveWire
import Foundation
import NitroAttestation
import SecureModule
import Synchronization
import TransparencyLog

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A verified answer to one call.
public struct VerifiedResponse: Sendable {
    public let requestID: String
    /// The result: for a sealed call, as opened by this client (the signed response carries it sealed).
    public let result: [UInt8]
    /// `ok`, or the error code the enclave signed.
    public let status: String
    public let receipt: VerifiedReceipt
    /// The response as received (it verifies offline against the same identity).
    public let signed: SignedResponse
}

/// A client of a Cloister host. It trusts nothing the host says: it attests the enclave with its own nonce
/// against pinned measurements and a pinned root, and checks every response against that identity, the request
/// it sent, and the result it got. Any mismatch is a `ClientError` naming the check, never a warning.
///
/// Every identity it takes must carry the expected deployment commitment (see `deployment`), so that a host that
/// hides the sealed master secret, and so makes the enclave start a new deployment, is caught.
public final class CloisterClient: Sendable {
    public let baseURL: URL
    public let token: String?
    public let trust: TrustManifest
    public let roots: TrustedRoots
    /// How long a call keeps asking for a pending result before giving up with `pending`; also how long a request
    /// the host refuses with 429 and `Retry-After` (a rate or a tenant's queue limit) may be waited out and sent
    /// again before that answer is the caller's.
    public let patience: Duration
    /// The tenant this client's token belongs to, when known: every receipt must then name it (a host that runs
    /// the request as another tenant is caught).
    public let tenant: String?
    /// How old the newest identity's document may get before a call attests the enclave again.
    public let reattestAfter: Duration
    /// The witnesses whose cosignatures `checkWitnesses` counts (C2SP cosignature verifier keys).
    public let witnesses: [NoteVerifierKey]
    /// How many of `witnesses` must have cosigned a head consistent with this client's for `checkWitnesses` to pass.
    public let witnessQuorum: Int
    private let session: URLSession

    struct State {
        var identities: [AttestedIdentity] = []
        var deployment: [UInt8]?
        var tenantRoot: [UInt8]?
        /// The newest verified log head per deployment (hex of its commitment).
        var heads: [String: LogHead] = [:]
        /// Verified heads smaller than the newest one seen at the time (answers of earlier batches).
        var olderHeads = 0
        /// Roots of smaller heads already proven to be prefixes of the newest one: (deployment hex, size) → root.
        var provenPrefixes: [String: [UInt8]] = [:]
    }
    /// The program key that signs this client's actions (nil: it can make reads only).
    public let credential: CredentialKey?
    let state: Mutex<State>
    private let attesting = Mutex<Task<AttestedIdentity, any Error>?>(nil)

    /// `maxConnections`: HTTP connections this client opens to the host at most (calls beyond wait their turn).
    /// `deployment`: the deployment commitment remembered from earlier sessions (the manifest's pin, if it has one,
    /// takes precedence). `reattestAfter`: before a call, an identity whose document is older than this is
    /// replaced by a fresh attestation. `witnesses` and `witnessQuorum`: see `checkWitnesses()`.
    public init(
        baseURL: URL, token: String?, trust: TrustManifest, roots: TrustedRoots = .aws, patience: Duration = .seconds(60), maxConnections: Int = 64,
        tenant: String? = nil, deployment: [UInt8]? = nil, reattestAfter: Duration = .seconds(3600), credential: CredentialKey? = nil,
        tenantRoot: [UInt8]? = nil, witnesses: [NoteVerifierKey] = [], witnessQuorum: Int = 0
    ) {
        self.witnesses = witnesses
        self.witnessQuorum = witnessQuorum
        self.tenant = tenant
        self.reattestAfter = reattestAfter
        self.credential = credential
        state = Mutex(State(deployment: trust.deployment ?? deployment, tenantRoot: tenantRoot))
        self.baseURL = baseURL
        self.token = token
        self.trust = trust
        self.roots = roots
        self.patience = patience
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = maxConnections
        configuration.timeoutIntervalForRequest = 120
        session = URLSession(configuration: configuration)
    }

    /// The tenant's root (the id of the credential it came into being with) every key-service receipt must carry:
    /// the one given at init, else the first one seen (remembered for this client's life); nil while none is known.
    /// A receipt with another root is `tenantChanged`: the host made a tenant of the same name under its own
    /// credential.
    public var tenantRoot: [UInt8]? { state.withLock { $0.tenantRoot } }

    /// Identities verified so far (the newest last).
    public var identities: [AttestedIdentity] { state.withLock { $0.identities } }

    /// The deployment commitment every identity must carry: the manifest's pin, else the one given at init, else
    /// the first one an identity presented (remembered for this client's life); nil while none is known.
    public var deployment: [UInt8]? { state.withLock { $0.deployment } }

    /// Trusts an identity verified elsewhere (a cached `cloister connect`), if it carries the expected deployment
    /// commitment; one of another deployment is refused with `deploymentChanged` and not kept.
    public func adopt(_ identity: AttestedIdentity) throws(ClientError) { try keep(identity) }

    /// Keeps `identity` if its deployment is the expected one (the first one seen becomes the expected one).
    private func keep(_ identity: AttestedIdentity, replacingKey: Bool = false) throws(ClientError) {
        try state.withLock { (s: inout State) throws(ClientError) in
            try Self.checkDeployment(identity, expected: s.deployment)
            if s.deployment == nil { s.deployment = identity.deployment }
            if replacingKey { s.identities.removeAll { $0.key == identity.key } }
            s.identities.append(identity)
            if s.identities.count > 16 { s.identities.removeFirst() }
        }
    }

    /// Refuses `identity` with `deploymentChanged` unless it carries the commitment `expected` (nil: any passes).
    public static func checkDeployment(_ identity: AttestedIdentity, expected: [UInt8]?) throws(ClientError) {
        guard let expected, identity.deployment != expected else { return }
        guard let presented = identity.deployment else {
            throw ClientError(
                .deploymentChanged,
                "the enclave's document carries no deployment commitment, but deployment \(Hex.encode(expected)) is expected: a document without one counts as a changed deployment")
        }
        throw ClientError(.deploymentChanged, "the enclave presents deployment \(Hex.encode(presented)), not the expected \(Hex.encode(expected))")
    }

    /// Fetches a fresh document with a random nonce and verifies it: root, chain, signature, PCR pins, the nonce,
    /// freshness (the manifest's maxAgeSeconds, else 5 minutes), the identity binding, and the deployment.
    /// Concurrent callers share one attestation in flight (a restart seen by a thousand answers at once attests
    /// once, not a thousand times).
    @discardableResult
    public func connect() async throws(ClientError) -> AttestedIdentity {
        let task = attesting.withLock { current -> Task<AttestedIdentity, any Error> in
            if let current { return current }
            let fresh = Task { () async throws -> AttestedIdentity in try await self.attestOnce() }
            current = fresh
            return fresh
        }
        let result = await task.result
        attesting.withLock { if $0 == task { $0 = nil } }
        switch result {
        case .success(let identity): return identity
        case .failure(let error as ClientError): throw error
        case .failure(let error): throw ClientError(.transport, "\(error)")
        }
    }

    private func attestOnce() async throws(ClientError) -> AttestedIdentity {
        let nonce = Random.bytes(32)
        let (status, body, _) = try await send("GET", "v1/attestation?nonce=" + Hex.encode(nonce))
        guard status == 200 else { throw Self.httpError(status, body) }
        var policy = trust.policy(nonce: nonce)
        if policy.maxAge == nil { policy.maxAge = 300_000 }
        let identity = try AttestedIdentity.verify(body, roots: roots, policy: policy)
        try keep(identity, replacingKey: true)
        return identity
    }

    /// Attests when there is no identity yet, or when the newest document is older than `reattestAfter`.
    func attestIfDue() async throws(ClientError) {
        let newest = identities.max { $0.document.timestamp < $1.document.timestamp }
        if newest.map({ $0.age() > reattestAfter }) ?? true { try await connect() }
    }

    /// Calls `operation` with `body` and verifies the answer. A fresh random request id is used unless one is given
    /// (give the same id to retry safely: the host answers a repeat from the job it already has).
    public func call(_ operation: String, body: [UInt8], requestID: String? = nil) async throws(ClientError) -> VerifiedResponse {
        let id = requestID ?? Self.randomRequestID()
        try await attestIfDue()
        let response = try await exchange(operation, body: body, requestID: id)
        guard response.status == "ok" else {
            throw ClientError(.operationFailed, "\(response.status): \(String(decoding: response.result.prefix(300), as: UTF8.self))")
        }
        return response
    }

    /// Sends one call and waits for its verified answer, whatever its status.
    func exchange(_ operation: String, body: [UInt8], requestID id: String) async throws(ClientError) -> VerifiedResponse {
        guard RequestLimits.isValidRequestID(id) else { throw ClientError(.httpError, "invalid request id \(id)") }
        guard tenant != nil else { throw ClientError(.requestMismatch, "a call needs the tenant its token belongs to (every receipt must name it)") }
        var (status, data, _) = try await send("POST", "v1/call/" + operation, body: body, headers: ["Cloister-Request-Id": id])
        let deadline = ContinuousClock.now + patience
        while status == 202 {
            guard ContinuousClock.now < deadline else { throw ClientError(.pending, "request \(id) is still queued; retry with the same request id") }
            try? await Task.sleep(for: .milliseconds(200))
            (status, data, _) = try await send("GET", "v1/requests/" + id)
        }
        guard status == 200 else { throw Self.httpError(status, data) }
        return try await verify(data, operation: operation, requestID: id, body: body)
    }

    /// Checks a response against the request this client sent. A receipt of a boot no known identity belongs to
    /// makes the client attest once more (the enclave may have restarted with a new identity); if that boot is
    /// not the fresh identity's, its boot document is fetched (a late answer of an older boot); if neither key
    /// verifies the seal, the response is refused.
    public func verify(_ bytes: [UInt8], operation: String, requestID: String, body: [UInt8]) async throws(ClientError) -> VerifiedResponse {
        let response: SignedResponse
        do { response = try SignedResponse(encoded: bytes) } catch { throw ClientError(.malformedResponse, "\(error)") }
        let boot = try VerifiedReceipt.parse(response.signed).0.boot
        let verified: VerifiedReceipt
        do {
            // The identities of the receipt's boot, and those that do not say which boot they belong to (the key
            // decides for them).
            verified = try Self.verifyUnderAny(response.signed, identities.filter { $0.boot == boot || $0.claims.boot == nil })
        } catch let error where error.code == .signatureInvalid {
            verified = try await verifyAfterBootChange(response.signed, boot: boot)
        }
        try Self.check(verified.receipt, response: response, operation: operation, requestID: requestID, body: body, tenant: tenant)
        try checkTenantRoot(verified.receipt)
        try await checkLog(response.signed)
        return VerifiedResponse(requestID: requestID, result: response.result, status: verified.receipt.status, receipt: verified, signed: response)
    }

    /// A receipt of a boot no known identity belongs to: attest afresh and verify under the fresh identity if it
    /// is of that boot; else under that boot's document (checked against the same root, pins and deployment, at
    /// its own time: it is old by design, and the request id and hash checks stop replays); else, as a last
    /// resort, under the fresh identity's key (a fresh document that does not name its boot).
    private func verifyAfterBootChange(_ signed: SignedReceipt, boot: [UInt8]) async throws(ClientError) -> VerifiedReceipt {
        // Another answer of the same new boot may have had it attested already.
        let fresh: AttestedIdentity
        if let known = identities.last(where: { $0.boot == boot && $0.claims.boot != nil }) { fresh = known } else { fresh = try await connect() }
        if fresh.boot == boot { return try VerifiedReceipt.verify(signed, key: fresh.key) }
        do {
            return try VerifiedReceipt.verify(signed, key: try await bootIdentity(boot).key)
        } catch let bootError {
            // A boot of another deployment is refused as such, whatever key sealed the answer.
            if bootError.code == .deploymentChanged { throw bootError }
            do { return try VerifiedReceipt.verify(signed, key: fresh.key) } catch {
                throw ClientError(error.code, "\(error.message) (and the boot document it names: \(bootError))", attestation: error.attestation)
            }
        }
    }

    /// Fetches and verifies the boot document with SHA-256 `boot` (`GET /v1/boots/HEX`) and remembers its identity,
    /// which must carry the expected deployment.
    public func bootIdentity(_ boot: [UInt8]) async throws(ClientError) -> AttestedIdentity {
        if let known = identities.first(where: { $0.documentHash == boot }) { return known }
        let (status, body, _) = try await send("GET", "v1/boots/" + Hex.encode(boot))
        guard status == 200 else { throw Self.httpError(status, body) }
        guard SHA.sha256(body) == boot else { throw ClientError(.missingAttestation, "the host served another document for boot \(Hex.encode(boot))") }
        let identity = try AttestedIdentity.verifyBootDocument(body, roots: roots, trust: trust)
        try keep(identity)
        return identity
    }

    /// A key-service receipt must carry the tenant's root this client knows (the first one seen becomes it).
    private func checkTenantRoot(_ r: Receipt) throws(ClientError) {
        guard r.operation.hasPrefix("key.") || r.operation.hasPrefix("credential.") else { return }
        try state.withLock { (s: inout State) throws(ClientError) in
            guard let expected = s.tenantRoot else {
                s.tenantRoot = r.tenantRoot
                return
            }
            guard r.tenantRoot == expected else {
                let shown = r.tenantRoot.map { "root \(Hex.encode($0))" } ?? "no credentials"
                throw ClientError(
                    .tenantChanged,
                    "tenant \(r.tenant) has \(shown), not the root \(Hex.encode(expected)) this client knows: a tenant of the same name made by someone else")
            }
        }
    }

    /// The request-side checks, in order: request id, operation, tenant (when known), request hash, result hash.
    public static func check(
        _ r: Receipt, response: SignedResponse, operation: String, requestID: String, body: [UInt8], tenant: String? = nil
    ) throws(ClientError) {
        guard r.requestID == requestID else { throw ClientError(.requestIDMismatch, "the receipt is for request \(r.requestID), not \(requestID)") }
        guard r.operation == operation else { throw ClientError(.requestMismatch, "the receipt is for operation \(r.operation), not \(operation)") }
        if let tenant, r.tenant != tenant { throw ClientError(.requestMismatch, "the enclave ran the request as tenant \(r.tenant), not \(tenant)") }
        guard r.requestHash == RequestDigest.hash(tenant: tenant ?? r.tenant, operation: operation, requestID: requestID, body: body) else {
            throw ClientError(.requestHashMismatch, "the enclave received a different request than this client sent")
        }
        guard r.resultHash == SHA.sha256(response.result) else {
            throw ClientError(.resultHashMismatch, "the result is not the one the enclave signed")
        }
    }

    static func verifyUnderAny(_ signed: SignedReceipt, _ identities: [AttestedIdentity]) throws(ClientError) -> VerifiedReceipt {
        var last = ClientError(.signatureInvalid, "no attested identity yet")
        for identity in identities.reversed() {
            do { return try VerifiedReceipt.verify(signed, key: identity.key) } catch where error.code == .signatureInvalid { last = error }
        }
        throw last
    }

    // MARK: Receipt log and boot documents (auditor or admin token)

    /// One page of the host's receipt log after index `after`.
    public func receipts(after: Int64, limit: Int = 1000) async throws(ClientError) -> (entries: [AuditLog.Entry], next: Int64) {
        let (status, data, _) = try await send("GET", "v1/receipts?after=\(after)&limit=\(limit)")
        guard status == 200 else { throw Self.httpError(status, data) }
        let (entries, next) = try Self.receiptPage(data, indexKey: "n")
        return (entries, Int64(next))
    }

    /// A page of a receipt listing, `{"receipts": [{KEY: N, "entry": BASE64, ...}], "next": N}`, each entry under the
    /// number its `indexKey` holds.
    static func receiptPage(_ data: [UInt8], indexKey: String) throws(ClientError) -> (entries: [AuditLog.Entry], next: UInt64) {
        guard let value = try? JSONValue.parse(data), let list = value.object?["receipts"]?.items, let next = value.object?["next"]?.number,
            Self.isIndex(next)
        else {
            throw ClientError(.malformedLog, "the receipt page is not {\"receipts\": [...], \"next\": N}")
        }
        var entries: [AuditLog.Entry] = []
        for item in list {
            guard let o = item.object, let n = o[indexKey]?.number, Self.isIndex(n), let e = o["entry"]?.string, let bytes = Base64.decode(e) else {
                throw ClientError(.malformedLog, "a receipt page entry is not {\"\(indexKey)\": N, \"entry\": BASE64}")
            }
            entries.append(AuditLog.Entry(index: Int64(n), entry: bytes))
        }
        return (entries, UInt64(next))
    }

    /// The whole receipt log and the boot documents it names.
    public func exportLog() async throws(ClientError) -> AuditLog {
        var entries: [AuditLog.Entry] = []
        var after: Int64 = 0
        while true {
            let page = try await receipts(after: after)
            entries += page.entries
            if page.entries.isEmpty || page.next <= after { break }
            after = page.next
        }
        var boots: [String: [UInt8]] = [:]
        for e in entries {
            guard let signed = try? SignedReceipt(encoded: e.entry), let r = try? Receipt(encoded: signed.receipt) else { continue }
            let hex = Hex.encode(r.boot)
            if boots[hex] != nil { continue }
            let (status, data, _) = try await send("GET", "v1/boots/" + hex)
            if status == 200 { boots[hex] = data }
        }
        return AuditLog(source: baseURL.absoluteString, receipts: entries, boots: boots)
    }

    // MARK: HTTP

    /// Sends a request; a 429 whose `Retry-After` the client's `patience` still allows is waited out and sent again
    /// (the host admitted nothing, so sending again is safe, a call under the same request id included).
    func send(_ method: String, _ path: String, body: [UInt8]? = nil, headers: [String: String] = [:]) async throws(ClientError) -> (Int, [UInt8], HTTPURLResponse) {
        let deadline = ContinuousClock.now + patience
        while true {
            let answer = try await sendOnce(method, path, body: body, headers: headers)
            guard answer.0 == 429, let wait = Self.retryAfter(answer.2), ContinuousClock.now + wait <= deadline else { return answer }
            do { try await Task.sleep(for: wait) } catch { return answer }
        }
    }

    /// A `Retry-After` of whole seconds (at most an hour), as the host sends it; nil for anything else.
    static func retryAfter(_ response: HTTPURLResponse) -> Duration? {
        guard let text = response.value(forHTTPHeaderField: "Retry-After"), text.count <= 4, text.allSatisfy(\.isASCII), let seconds = Int(text),
            (0...3600).contains(seconds)
        else { return nil }
        return .seconds(seconds)
    }

    private func sendOnce(_ method: String, _ path: String, body: [UInt8]?, headers: [String: String]) async throws(ClientError) -> (Int, [UInt8], HTTPURLResponse) {
        guard let url = URL(string: path, relativeTo: baseURL) else { throw ClientError(.transport, "bad URL \(path)") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        if let token { request.setValue("Bearer " + token, forHTTPHeaderField: "Authorization") }
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        if let body {
            request.httpBody = Data(body)
            request.setValue("application/octet-stream", forHTTPHeaderField: "Content-Type")
        }
        do {
            let (data, response) = try await session.data(for: request)
            guard let http = response as? HTTPURLResponse else { throw ClientError(.transport, "not an HTTP response") }
            return (http.statusCode, [UInt8](data), http)
        } catch let error as ClientError {
            throw error
        } catch {
            throw ClientError(.transport, "\(method) \(url.absoluteString): \(error.localizedDescription)")
        }
    }

    /// Whether a JSON number is a log index (a whole number a host could really have): anything else would trap.
    static func isIndex(_ n: Double) -> Bool { n >= 0 && n < 9e15 && n == n.rounded() }

    static func httpError(_ status: Int, _ body: [UInt8]) -> ClientError {
        let error = (try? JSONValue.parse(body))?.object?["error"]?.object
        let code = error?["code"]?.string ?? "unknown"
        let message = error?["message"]?.string ?? String(decoding: body.prefix(200), as: UTF8.self)
        return ClientError(.httpError, message, apiCode: code, httpStatus: status)
    }

    /// 18 random bytes as 24 base64url characters: two clients never collide.
    public static func randomRequestID() -> String { Random.base64url(18) }
}
