import CloisterClient
import CloisterTestSupport
import EnclaveWire
import Foundation
import Hummingbird
import NitroAttestation
import Synchronization

/// A host in front of software enclaves, in process, speaking the API over real HTTP the way `cloister-host`
/// does (attestation, boot documents, calls), so that a test can restart the enclave, swap in another
/// deployment, or answer a call from an older boot, and count what the client asked for.
final class TestHost: Sendable {
    private struct State {
        /// Every boot so far; the last one is running.
        var enclaves: [TestEnclave]
        /// The boot that answers calls (index into `enclaves`); nil: the running one.
        var answering: Int?
        var attestations = 0
        var bootFetches = 0
        /// The receipt log `GET /v1/receipts` pages through.
        var log: [AuditLog.Entry] = []
    }

    private let state: Mutex<State>
    private let server = Mutex<LoopbackHTTPServer?>(nil)

    init(_ enclave: TestEnclave) { state = Mutex(State(enclaves: [enclave])) }

    /// Fresh documents served so far.
    var attestations: Int { state.withLock { $0.attestations } }
    /// Boot documents served so far.
    var bootFetches: Int { state.withLock { $0.bootFetches } }

    /// The enclave restarts as `enclave` (a new boot); calls are answered by it.
    func restart(as enclave: TestEnclave) { state.withLock { $0.enclaves.append(enclave) } }

    /// The receipt log the host serves from now on.
    func publish(_ log: [AuditLog.Entry]) { state.withLock { $0.log = log } }

    /// Calls are answered by boot `index` (0: the first), as a late answer of an older boot would be.
    func answer(fromBoot index: Int?) { state.withLock { $0.answering = index } }

    /// Starts listening on a free loopback port; returns the base URL.
    func start() async throws -> URL {
        let router = Router()
        router.get("v1/attestation") { request, _ in try await self.attestation(request) }
        router.get("v1/boots/:hash") { _, context in self.boot(context.parameters.get("hash") ?? "") }
        router.get("v1/receipts") { request, _ in self.receipts(request) }
        router.post("v1/call/:operation") { request, context in
            try await self.call(request, operation: context.parameters.get("operation") ?? "")
        }
        let server = try await LoopbackHTTPServer.start(router)
        self.server.withLock { $0 = server }
        return server.url
    }

    func stop() { server.withLock { $0?.stop() } }

    private func attestation(_ request: Request) async throws -> Response {
        guard let nonce = request.uri.queryParameters.get("nonce").flatMap({ Hex.decode($0) }) else { return Self.answer(.badRequest, []) }
        let enclave = state.withLock { s in
            s.attestations += 1
            return s.enclaves.last!
        }
        return Self.answer(.ok, try await enclave.fresh(nonce: nonce))
    }

    private func boot(_ hex: String) -> Response {
        let document: [UInt8]? = state.withLock { s in
            s.bootFetches += 1
            return s.enclaves.first { Hex.encode($0.identity.bootHash) == hex.lowercased() }?.identity.bootDocument
        }
        return document.map { Self.answer(.ok, $0) } ?? Self.answer(.notFound, [])
    }

    /// A page of the log after `after`, at most `limit` entries, as the host's API answers it.
    private func receipts(_ request: Request) -> Response {
        let after = request.uri.queryParameters.get("after").flatMap { Int64($0) } ?? 0
        let limit = request.uri.queryParameters.get("limit").flatMap { Int($0) } ?? 1000
        let page = state.withLock { s in Array(s.log.filter { $0.index > after }.prefix(limit)) }
        let items = page.map { "{\"n\":\($0.index),\"entry\":\"\(Base64.encode($0.entry))\"}" }.joined(separator: ",")
        let json = "{\"receipts\":[\(items)],\"next\":\(page.last?.index ?? after)}"
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: Array(json.utf8))))
    }

    private func call(_ request: Request, operation: String) async throws -> Response {
        let body = try await request.body.collect(upTo: 1 << 20)
        let id = request.headers.first { $0.name.canonicalName == "cloister-request-id" }?.value ?? ""
        let enclave = state.withLock { s in s.answering.map { s.enclaves[$0] } ?? s.enclaves.last! }
        return Self.answer(.ok, try enclave.answer(operation, requestID: id, body: Array(body.readableBytesView)).encoded)
    }

    private static func answer(_ status: HTTPResponse.Status, _ bytes: [UInt8]) -> Response {
        Response(status: status, headers: [.contentType: "application/cbor"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
