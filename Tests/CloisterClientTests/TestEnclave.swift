import CloisterClient
import CloisterTestSupport
import EnclaveWire
import Foundation
import NitroAttestation
import SecureModule

@testable import EnclaveRuntime

/// A real enclave identity on the software secure module, with a receipt chain, for building logs.
final class TestEnclave: @unchecked Sendable {
    static let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-audit-\(UUID().uuidString)").path
    static let root = try! EmulatedRoot.loadOrCreate(directory: directory).root
    static let image = EnclaveImage(executable: Array("cloister-enclave audit test".utf8), manifest: Array("{}".utf8))
    static var roots: TrustedRoots { TrustedRoots(certificates: [root.certificate]) }
    static var trust: TrustManifest { TrustManifest(pcrs: [0: image.measurements[0]!, 1: image.measurements[1]!]) }

    let identity: EnclaveIdentity
    let chain: ReceiptChain
    private var next: UInt64 = 0

    /// `deployment`: the commitment its documents carry, as an enclave holding that deployment's master secret
    /// makes them; nil: none (an enclave without a master secret).
    init(image: EnclaveImage = TestEnclave.image, deployment: [UInt8]? = nil) async throws {
        let module = NSMClient(transport: try SoftwareNSM(root: Self.root, image: image))
        identity = try await EnclaveIdentity.create(module: module, manifestBytes: Array("{}".utf8), deployment: deployment)
        chain = ReceiptChain(identity: identity)
    }

    /// A boot of `deployment`: its chain appends every batch to the deployment's one log, kept in the deployment's
    /// store as the enclave keeps it (every boot of the deployment shares it).
    init(of deployment: LoggedDeployment, image: EnclaveImage = TestEnclave.image) async throws {
        let module = NSMClient(transport: try SoftwareNSM(root: Self.root, image: image))
        identity = try await EnclaveIdentity.create(module: module, manifestBytes: Array("{}".utf8), deployment: deployment.master.commitment)
        let log = try await DeploymentLog.load(store: deployment.store, master: deployment.master)
        chain = ReceiptChain(identity: identity, log: log, store: deployment.store, master: deployment.master)
    }

    /// One job of a logged batch.
    struct Job {
        var operation = "echo"
        var requestID: String?
        var tenant = "acme"
        var status = "ok"
        /// The credentials that approved it: a signed action.
        var approvers: [[UInt8]]?
    }

    /// Seals `jobs` in one batch appended to the deployment log (again, once, if another boot of the deployment
    /// appended meanwhile, as the enclave's next batch does); returns the signed receipts, each with `n`, `head`
    /// and `lproof`.
    func logged(_ jobs: [Job]) async throws -> [SignedReceipt] {
        var outcomes: [ReceiptChain.Outcome] = []
        for j in jobs {
            next += 1
            let job = QueueJob(id: next, requestID: j.requestID ?? "r\(next)", tenant: j.tenant, operation: j.operation, body: [], attempt: 1)
            let hash = RequestDigest.hash(tenant: j.tenant, operation: j.operation, requestID: job.requestID, body: [])
            outcomes.append(.init(job: job, requestHash: hash, status: j.status, result: [], approvers: j.approvers))
        }
        let sealed: [ReceiptChain.Sealed]
        do { sealed = try await chain.seal(outcomes) } catch let e as DeploymentLogError where e.code == .logHeadChanged {
            sealed = try await chain.seal(outcomes)
        }
        return try sealed.map { try SignedReceipt(encoded: $0.result.receipt) }
    }

    /// `count` echo jobs, logged.
    func logged(_ count: Int) async throws -> [SignedReceipt] { try await logged(Array(repeating: Job(), count: count)) }

    /// A fresh document with the client's nonce, naming this boot, as the enclave answers `GET /v1/attestation`.
    func fresh(nonce: [UInt8]) async throws -> [UInt8] { try await identity.attest(nonce: nonce) }

    /// Seals `count` echo jobs in one batch; returns the signed responses and the log entries.
    func batch(_ count: Int, body: [UInt8] = Array("hello".utf8)) throws -> [(response: SignedResponse, job: QueueJob)] {
        try seal((0..<count).map { _ in ("echo", nil, body) })
    }

    /// Seals one job that echoes `body`, as the enclave answers a call.
    func answer(_ operation: String, requestID: String, body: [UInt8]) throws -> SignedResponse {
        try seal([(operation, requestID, body)])[0].response
    }

    private func seal(_ jobs: [(operation: String, requestID: String?, body: [UInt8])]) throws -> [(response: SignedResponse, job: QueueJob)] {
        var outcomes: [ReceiptChain.Outcome] = []
        for (operation, requestID, body) in jobs {
            next += 1
            let job = QueueJob(id: next, requestID: requestID ?? "r\(next)", tenant: "acme", operation: operation, body: body, attempt: 1)
            outcomes.append(
                .init(job: job, requestHash: RequestDigest.hash(tenant: "acme", operation: operation, requestID: job.requestID, body: body), status: "ok", result: body))
        }
        return try chain.sealUnlogged(outcomes).enumerated().map { i, s in (try SignedResponse(encoded: s.result.response), outcomes[i].job) }
    }

    var boots: [String: [UInt8]] { [Hex.encode(identity.bootHash): identity.bootDocument] }
}

/// A deployment: its master secret and the store its log lives in.
final class LoggedDeployment: @unchecked Sendable {
    let master: MasterSecret
    let store = MemoryStore()

    init() throws { master = try MasterSecret(Random.bytes(MasterSecret.length)) }

    var commitment: [UInt8] { master.commitment }
}

/// The batch record of receipts sealed together.
func batch(_ signed: [SignedReceipt]) -> AuditBatch {
    AuditBatch(seal: signed[0].seal, entries: signed.map { .init(index: Int64($0.index ?? 0), receipt: $0.receipt) }, head: signed[0].head)
}

func entries(_ responses: [SignedResponse], from start: Int64 = 1) -> [AuditLog.Entry] {
    responses.enumerated().map { AuditLog.Entry(index: start + Int64($0.offset), entry: $0.element.signed.encoded) }
}
