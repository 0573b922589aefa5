import CloisterClient
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

func entries(_ responses: [SignedResponse], from start: Int64 = 1) -> [AuditLog.Entry] {
    responses.enumerated().map { AuditLog.Entry(index: start + Int64($0.offset), entry: $0.element.signed.encoded) }
}
