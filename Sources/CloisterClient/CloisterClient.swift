import EnclaveWire
import Foundation
import NitroAttestation
import Synchronization

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A verified answer to one call.
public struct VerifiedResponse: Sendable {
    public let requestID: String
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
public final class CloisterClient: Sendable {
    public let baseURL: URL
    public let token: String?
    public let trust: TrustManifest
    public let roots: TrustedRoots
    /// How long a call keeps asking for a pending result before giving up with `pending`.
    public let patience: Duration
    /// The tenant this client's token belongs to, when known: every receipt must then name it (a host that runs
    /// the request as another tenant is caught).
    public let tenant: String?
    private let session: URLSession
    private let state = Mutex<[AttestedIdentity]>([])

    /// `maxConnections`: HTTP connections this client opens to the host at most (calls beyond wait their turn).
    public init(
        baseURL: URL, token: String?, trust: TrustManifest, roots: TrustedRoots = .aws, patience: Duration = .seconds(60), maxConnections: Int = 64,
        tenant: String? = nil
    ) {
        self.tenant = tenant
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

    /// Identities verified so far (the newest last).
    public var identities: [AttestedIdentity] { state.withLock { $0 } }

    /// Trusts an identity verified elsewhere (a cached `cloister connect`).
    public func adopt(_ identity: AttestedIdentity) { state.withLock { $0.append(identity) } }

    /// Fetches a fresh document with a random nonce and verifies it: root, chain, signature, PCR pins, the nonce,
    /// freshness (the manifest's maxAgeSeconds, else 5 minutes), and the identity binding.
    @discardableResult
    public func connect() async throws(ClientError) -> AttestedIdentity {
        let nonce = Random.bytes(32)
        let (status, body, _) = try await send("GET", "v1/attestation?nonce=" + Hex.encode(nonce))
        guard status == 200 else { throw Self.httpError(status, body) }
        var policy = trust.policy(nonce: nonce)
        if policy.maxAge == nil { policy.maxAge = 300_000 }
        let identity = try AttestedIdentity.verify(body, roots: roots, policy: policy)
        state.withLock { list in
            list.removeAll { $0.key == identity.key }
            list.append(identity)
            if list.count > 16 { list.removeFirst() }
        }
        return identity
    }

    /// Calls `operation` with `body` and verifies the answer. A fresh random request id is used unless one is given
    /// (give the same id to retry safely: the host answers a repeat from the job it already has).
    public func call(_ operation: String, body: [UInt8], requestID: String? = nil) async throws(ClientError) -> VerifiedResponse {
        let id = requestID ?? Self.randomRequestID()
        guard RequestLimits.isValidRequestID(id) else { throw ClientError(.httpError, "invalid request id \(id)") }
        if identities.isEmpty { try await connect() }
        var (status, data, _) = try await send("POST", "v1/call/" + operation, body: body, headers: ["Cloister-Request-Id": id])
        let deadline = ContinuousClock.now + patience
        while status == 202 {
            guard ContinuousClock.now < deadline else { throw ClientError(.pending, "request \(id) is still queued; retry with the same request id") }
            try? await Task.sleep(for: .milliseconds(200))
            (status, data, _) = try await send("GET", "v1/requests/" + id)
        }
        guard status == 200 else { throw Self.httpError(status, data) }
        let response = try await verify(data, operation: operation, requestID: id, body: body)
        guard response.status == "ok" else {
            throw ClientError(.operationFailed, "\(response.status): \(String(decoding: response.result.prefix(300), as: UTF8.self))")
        }
        return response
    }

    /// Checks a response against the request this client sent. A seal by a key this client has not attested
    /// makes it attest once more (the enclave may have restarted with a new identity); if the new document's key
    /// does not verify the seal either, the response is refused.
    public func verify(_ bytes: [UInt8], operation: String, requestID: String, body: [UInt8]) async throws(ClientError) -> VerifiedResponse {
        let response: SignedResponse
        do { response = try SignedResponse(encoded: bytes) } catch { throw ClientError(.malformedResponse, "\(error)") }
        let verified: VerifiedReceipt
        do {
            verified = try Self.verifyUnderAny(response.signed, identities)
        } catch let error where error.code == .signatureInvalid {
            // The enclave may have restarted since this client attested it. The receipt names its boot; that
            // boot's document binds the key that sealed it (checked against the same root and pins, at its own
            // time: it is old by design, and the request id and hash checks below stop replays).
            let boot = try VerifiedReceipt.parse(response.signed).0.boot
            do {
                verified = try VerifiedReceipt.verify(response.signed, key: try await bootIdentity(boot).key)
            } catch let bootError {
                do {
                    verified = try VerifiedReceipt.verify(response.signed, key: try await connect().key)
                } catch {
                    throw ClientError(error.code, "\(error.message) (and the boot document it names: \(bootError))", attestation: error.attestation)
                }
            }
        }
        try Self.check(verified.receipt, response: response, operation: operation, requestID: requestID, body: body, tenant: tenant)
        return VerifiedResponse(requestID: requestID, result: response.result, status: verified.receipt.status, receipt: verified, signed: response)
    }

    /// Fetches and verifies the boot document with SHA-256 `boot` (`GET /v1/boots/HEX`) and remembers its identity.
    public func bootIdentity(_ boot: [UInt8]) async throws(ClientError) -> AttestedIdentity {
        if let known = identities.first(where: { $0.documentHash == boot }) { return known }
        let (status, body, _) = try await send("GET", "v1/boots/" + Hex.encode(boot))
        guard status == 200 else { throw Self.httpError(status, body) }
        guard SHA.sha256(body) == boot else { throw ClientError(.missingAttestation, "the host served another document for boot \(Hex.encode(boot))") }
        let identity = try AttestedIdentity.verifyBootDocument(body, roots: roots, trust: trust)
        state.withLock { list in
            list.append(identity)
            if list.count > 16 { list.removeFirst() }
        }
        return identity
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
        guard let value = try? JSONValue.parse(data), let list = value.object?["receipts"]?.items, let next = value.object?["next"]?.number,
            Self.isIndex(next)
        else {
            throw ClientError(.malformedLog, "the receipt page is not {\"receipts\": [...], \"next\": N}")
        }
        var entries: [AuditLog.Entry] = []
        for item in list {
            guard let o = item.object, let n = o["n"]?.number, Self.isIndex(n), let e = o["entry"]?.string, let bytes = Base64.decode(e) else {
                throw ClientError(.malformedLog, "a receipt page entry is not {\"n\": N, \"entry\": BASE64}")
            }
            entries.append(AuditLog.Entry(index: Int64(n), entry: bytes))
        }
        return (entries, Int64(next))
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

    func send(_ method: String, _ path: String, body: [UInt8]? = nil, headers: [String: String] = [:]) async throws(ClientError) -> (Int, [UInt8], HTTPURLResponse) {
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
