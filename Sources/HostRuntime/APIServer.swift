import CBOR
import EnclaveWire
import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle
import Logging
import NitroAttestation
import TransparencyLog
import VsockBridge

/// The public HTTP API (documented in `docs/api.md`). Callers authenticate with bearer tokens; a request without
/// valid credentials is answered 401 before anything is queued. Errors are JSON with a stable code. A call's
/// answer is the enclave's signed response, byte for byte.
public struct APIServer: Sendable {
    public let host: String
    public let port: Int
    public let maxBodyBytes: Int
    public let wait: TimeAmount
    let queue: JobQueue
    let auth: APIAuthenticator
    let logger: Logger
    /// The manifest's witnesses (`log.witnesses`): whose cosigned heads `POST /v1/log/witness` keeps.
    let witnesses: [NoteVerifierKey]
    /// The per-caller rate of `GET /v1/attestation`.
    let attestationLimiter: AttestationLimiter
    /// Roots of whole blocks of the log, for consistency proofs.
    let logNodes = LogNodeCache()

    public init(
        host: String, port: Int, maxBodyBytes: Int, wait: TimeAmount, queue: JobQueue, auth: APIAuthenticator, witnesses: [NoteVerifierKey] = [],
        attestationLimiter: AttestationLimiter = AttestationLimiter(limit: RateLimit(perMinute: 600, burst: 60)), logger: Logger
    ) {
        self.witnesses = witnesses
        self.attestationLimiter = attestationLimiter
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
        self.wait = wait
        self.queue = queue
        self.auth = auth
        self.logger = logger
    }

    static let requestIDHeader = HTTPField.Name("Cloister-Request-Id")!
    static let jobHeader = HTTPField.Name("Cloister-Job")!
    static let statusHeader = HTTPField.Name("Cloister-Status")!
    static let sequenceHeader = HTTPField.Name("Cloister-Receipt-Seq")!
    static let retryAfterHeader = HTTPField.Name("Retry-After")!

    /// The Hummingbird application, a `Service` for the host's group.
    public func application(onRunning: @escaping @Sendable (Int) -> Void = { _ in }) -> any Service {
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: JSONErrorMiddleware(logger: logger))
        let api = self
        router.get("/v1/attestation") { request, context in try await api.attestation(request, from: context.remoteAddress) }
        router.post("/v1/call/:op") { request, context in try await api.call(request, operation: context.parameters.get("op") ?? "") }
        router.get("/v1/requests/:id") { request, context in try await api.lookup(request, requestID: context.parameters.get("id") ?? "") }
        router.get("/v1/receipts") { request, _ in try await api.receipts(request) }
        router.get("/v1/boots") { request, _ in try await api.boots(request) }
        router.get("/v1/boots/:hash") { _, context in try await api.boot(hash: context.parameters.get("hash") ?? "") }
        router.get("/v1/deployment") { request, _ in try await api.deployment(request) }
        router.get("/v1/log/head") { request, _ in try await api.logHead(request) }
        router.get("/v1/log/consistency") { request, _ in try await api.logConsistency(request) }
        router.post("/v1/log/witness") { request, _ in try await api.storeWitnessed(request) }
        router.get("/v1/log/witnesses") { request, _ in try await api.witnessedHeads(request) }
        router.get("/v1/log/receipts") { request, _ in try await api.logReceipts(request) }
        router.post("/v1/admin/tenants") { request, _ in try await api.createTenant(request) }
        router.post("/v1/admin/tokens") { request, _ in try await api.createToken(request) }
        router.get("/openapi.json") { _, _ in Self.openAPI() }
        return Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "cloister-host"),
            onServerRunning: { channel in onRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    // MARK: Routes

    /// `GET /openapi.json` (no token): the OpenAPI description of this API, `docs/openapi.json` byte for byte.
    static func openAPI() -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: PackageResources.openapi_json)))
    }

    /// `GET /v1/attestation` (no token needed): counted against the token's holder, or without a valid token
    /// against the caller's address (429 `rateLimited` beyond the rate); a caller without a token gets one of the
    /// slots open to such callers (503 `anonymousBusy` when they are all waiting).
    func attestation(_ request: Request, from address: SocketAddress?) async throws -> Response {
        guard let text = request.uri.queryParameters["nonce"], let nonce = Hex.decode(text), !nonce.isEmpty, nonce.count <= QueueMessage.maxNonce else {
            throw APIError(400, "badNonce", "nonce must be 1 to \(QueueMessage.maxNonce) bytes in hex")
        }
        let principal = auth.principal(authorization: request.headers[.authorization])
        if case .limited(let seconds) = attestationLimiter.admit(principal: principal, address: address) {
            throw APIError(429, "rateLimited", "too many attestation requests from this caller; try again in \(seconds) s", retryAfter: seconds)
        }
        let document = try await queue.attestation(nonce: nonce, anonymous: principal == nil)
        return Response(status: .ok, headers: [.contentType: "application/cbor"], body: .init(byteBuffer: ByteBuffer(bytes: document)))
    }

    func call(_ request: Request, operation: String) async throws -> Response {
        guard case .tenant(let tenantID, let tenant)? = auth.principal(authorization: request.headers[.authorization]) else {
            throw APIError.unauthorized()
        }
        guard RequestLimits.isValidName(operation) else {
            throw APIError(400, "badOperation", "an operation is 1 to 64 of a-z 0-9 - _ . starting with a letter or digit")
        }
        guard let requestID = request.headers[Self.requestIDHeader] else {
            throw APIError(400, "missingRequestId", "the Cloister-Request-Id header is required")
        }
        guard RequestLimits.isValidRequestID(requestID) else {
            throw APIError(400, "badRequestId", "a request id is 1 to 64 of A-Z a-z 0-9 - _ . :")
        }
        let body = try await collect(request)
        let submitted = try await queue.submit(tenantID: tenantID, tenant: tenant, requestID: requestID, operation: operation, body: body)
        let jobID: UInt64
        switch submitted {
        case .queued(let id): jobID = id
        case .existing(_, let done?):
            return Self.response(done)
        case .existing(let id, nil): jobID = id
        }
        if let done = await queue.awaitCompletion(jobID, timeout: wait) { return Self.response(done) }
        return Self.pending(jobID: jobID, requestID: requestID)
    }

    func lookup(_ request: Request, requestID: String) async throws -> Response {
        guard case .tenant(let tenantID, _)? = auth.principal(authorization: request.headers[.authorization]) else { throw APIError.unauthorized() }
        guard RequestLimits.isValidRequestID(requestID) else { throw APIError(400, "badRequestId", "a request id is 1 to 64 of A-Z a-z 0-9 - _ . :") }
        let id: Int64?
        do {
            id = try await queue.database.read { db in
                try Int64.fetchOne(db, sql: "SELECT id FROM jobs WHERE tenant_id = ? AND request_id = ?", arguments: [tenantID, requestID])
            }
        } catch { throw APIError.storage(error) }
        guard let id else { throw APIError(404, "unknownRequest", "no request \(requestID) for this tenant") }
        if let done = await queue.awaitCompletion(UInt64(id), timeout: .zero) { return Self.response(done) }
        return Self.pending(jobID: UInt64(id), requestID: requestID)
    }

    func boots(_ request: Request) async throws -> Response {
        switch auth.principal(authorization: request.headers[.authorization]) {
        case .auditor?, .admin?: break
        case .tenant?: throw APIError(403, "forbidden", "the boot list needs an auditor or admin token")
        case nil: throw APIError.unauthorized()
        }
        let rows: [Row]
        do {
            rows = try await queue.database.rows("SELECT hash, first_seen FROM boots ORDER BY first_seen")
        } catch { throw APIError.storage(error) }
        let items = rows.map { "{\"hash\":\"\(Hex.encode(($0[0] as Data).bytes))\",\"firstSeen\":\($0[1] as Int64)}" }
        return Self.json(200, "{\"boots\":[" + items.joined(separator: ",") + "]}")
    }

    /// The deployment record (sealed master and genesis document) and the master sealed to the recovery keys, as
    /// the enclave stored them, for an admin or auditor: only KMS, an authorised enclave or a recovery key holder
    /// can open them, but a recovery key alone should not be enough to anyone who reaches the API. CBOR
    /// `{"record": bstr, ? "recovery": bstr}`; what a recovery reads.
    func deployment(_ request: Request) async throws -> Response {
        switch auth.principal(authorization: request.headers[.authorization]) {
        case .auditor?, .admin?: break
        case .tenant?: throw APIError(403, "forbidden", "the deployment record needs an auditor or admin token")
        case nil: throw APIError.unauthorized()
        }
        let rows: [Row]
        do {
            rows = try await queue.database.rows("SELECT key, value FROM blobs WHERE key IN (?, ?)", [DeploymentRecord.storeKey, RecoveryRecord.storeKey])
        } catch { throw APIError.storage(error) }
        var map: CBORMap = [:]
        for row in rows {
            let key: String = row[0]
            let value: Data = row[1]
            map[.text(key == DeploymentRecord.storeKey ? "record" : "recovery")] = .bytes(Array(value))
        }
        guard map[.text("record")] != nil else { throw APIError(404, "noDeployment", "the enclave has not recorded a deployment yet") }
        return Response(status: .ok, headers: [.contentType: "application/cbor"], body: .init(byteBuffer: ByteBuffer(bytes: CBOREncoder.encode(.map(map)))))
    }

    /// A boot attestation document by its SHA-256; public, like any attestation document.
    func boot(hash text: String) async throws -> Response {
        guard let hash = Hex.decode(text), hash.count == 32 else { throw APIError(400, "badHash", "a boot is named by 64 hex digits") }
        let document: Data?
        do {
            document = try await queue.database.read { db in try Data.fetchOne(db, sql: "SELECT document FROM boots WHERE hash = ?", arguments: [Data(hash)]) }
        } catch { throw APIError.storage(error) }
        guard let document else { throw APIError(404, "unknownBoot", "no boot document with that hash") }
        return Response(status: .ok, headers: [.contentType: "application/cbor"], body: .init(byteBuffer: ByteBuffer(bytes: document)))
    }

    func createTenant(_ request: Request) async throws -> Response {
        try requireAdmin(request)
        let object = try await jsonObject(request, keys: ["name"])
        guard let name = object["name"]?.string, RequestLimits.isValidName(name) else {
            throw APIError(400, "badTenant", "\"name\" must be 1 to 64 of a-z 0-9 - _ . starting with a letter or digit")
        }
        try await auth.createTenant(name)
        logger.info("tenant created", metadata: ["tenant": "\(name)"])
        return Self.json(201, "{\"tenant\":\"\(name)\"}")
    }

    func createToken(_ request: Request) async throws -> Response {
        try requireAdmin(request)
        let object = try await jsonObject(request, keys: ["tenant", "role"])
        let role = object["role"]?.string ?? "tenant"
        let token: String
        switch role {
        case "tenant":
            guard let tenant = object["tenant"]?.string, RequestLimits.isValidName(tenant) else {
                throw APIError(400, "badTenant", "\"tenant\" must name a tenant")
            }
            token = try await auth.createToken(tenant: tenant)
            logger.info("token created", metadata: ["tenant": "\(tenant)"])
            return Self.json(201, "{\"tenant\":\"\(tenant)\",\"token\":\"\(token)\"}")
        case "auditor":
            guard object["tenant"] == nil else { throw APIError(400, "badRole", "an auditor token belongs to no tenant") }
            token = try await auth.createToken(tenant: nil)
            logger.info("auditor token created")
            return Self.json(201, "{\"role\":\"auditor\",\"token\":\"\(token)\"}")
        default:
            throw APIError(400, "badRole", "\"role\" is tenant or auditor")
        }
    }

    // MARK: Helpers

    private func requireAdmin(_ request: Request) throws {
        guard auth.adminEnabled else { throw APIError(403, "adminDisabled", "this host has no admin token configured") }
        guard auth.principal(authorization: request.headers[.authorization]) == .admin else { throw APIError.unauthorized() }
    }

    /// The request's body, at most `limit` bytes (default `maxBodyBytes`); 413 `bodyTooLarge` beyond.
    func collect(_ request: Request, limit: Int? = nil) async throws -> [UInt8] {
        let limit = limit ?? maxBodyBytes
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw APIError(413, "bodyTooLarge", "the body is larger than \(limit) bytes")
        }
        do {
            let buffer = try await request.body.collect(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            throw APIError(413, "bodyTooLarge", "the body is larger than \(limit) bytes")
        } catch {
            throw APIError(400, "badRequest", "the body could not be read")
        }
    }

    private func jsonObject(_ request: Request, keys: Set<String>) async throws -> [String: JSONValue] {
        let body = try await collect(request)
        guard let value = try? JSONValue.parse(body), let object = value.object else {
            throw APIError(400, "malformedJSON", "the body must be a JSON object")
        }
        for key in object.keys.sorted() where !keys.contains(key) {
            throw APIError(400, "unknownField", "unknown field \"\(key.prefix(40))\" (known: \(keys.sorted().joined(separator: ", ")))")
        }
        if let key = JSONDuplicateKeys.first(in: body) {
            throw APIError(400, "duplicateField", "field \"\(key.prefix(40))\" is given more than once")
        }
        return object
    }

    /// The whole-number query parameter `name`, in `range`; `value` when it is absent, 400 `badQuery` when it is absent
    /// and has no default.
    static func integer(_ request: Request, _ name: String, default value: Int64? = nil, range: ClosedRange<Int64>) throws -> Int64 {
        guard let text = request.uri.queryParameters[Substring(name)] else {
            guard let value else { throw APIError(400, "badQuery", "\(name) is required") }
            return value
        }
        guard let n = Int64(text), range.contains(n) else {
            throw APIError(400, "badQuery", "\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    static func response(_ done: JobCompletion) -> Response {
        var headers: HTTPFields = [.contentType: "application/cbor"]
        headers[jobHeader] = String(done.jobID)
        headers[statusHeader] = done.status
        headers[sequenceHeader] = String(done.sequence)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: done.response)))
    }

    static func pending(jobID: UInt64, requestID: String) -> Response {
        var r = json(202, "{\"status\":\"pending\",\"requestId\":\"\(requestID)\",\"job\":\(jobID)}")
        r.headers[jobHeader] = String(jobID)
        return r
    }

    static func json(_ status: Int, _ body: String) -> Response {
        Response(
            status: HTTPResponse.Status(code: status), headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: body + "\n")))
    }
}

/// Turns every error into the API's JSON error body with a stable code; nothing else leaks.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return Self.render(error)
        } catch let error as HTTPError {
            let code: String
            switch error.status.code {
            case 404: code = "notFound"
            case 405: code = "methodNotAllowed"
            case 413: code = "bodyTooLarge"
            default: code = "badRequest"
            }
            return Self.render(APIError(error.status.code, code, error.body ?? error.status.reasonPhrase))
        } catch {
            logger.error("api: unexpected error: \(error)")
            return Self.render(APIError(500, "internal", "internal error"))
        }
    }

    static func render(_ error: APIError) -> Response {
        var response = APIServer.json(
            error.status, "{\"error\":{\"code\":\"\(error.code)\",\"message\":\"\(JSONLine.escape(error.message))\"}}")
        if let seconds = error.retryAfter { response.headers[APIServer.retryAfterHeader] = String(seconds) }
        return response
    }
}
