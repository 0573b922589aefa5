// Builds a receipt log for Scripts/bench-audit with the enclave's own code: an identity on the software secure
// module (booted from an emulated root), a ReceiptChain that receipts and seals each batch with ES384, and the
// binary export form (AuditStreamWriter). Writes OUT, and beside it OUT.pins.json (the PCR pins) and the root
// certificate in DIR/root.pem, which is what `cloister audit verify --file OUT` needs.
import CloisterClient
import EnclaveRuntime
import EnclaveWire
import Foundation
import NitroAttestation
import SecureModule

func usage() -> Never {
    FileHandle.standardError.write(Data("usage: AuditLogBuilder --receipts N [--batch B] [--root-dir DIR] --out FILE\n".utf8))
    exit(64)
}

var count = 0
var batchSize = 256
var rootDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-bench-audit-root").path
var out: String?
var arguments = CommandLine.arguments.dropFirst()
while let a = arguments.popFirst() {
    switch a {
    case "--receipts": count = arguments.popFirst().flatMap(Int.init) ?? 0
    case "--batch": batchSize = arguments.popFirst().flatMap(Int.init) ?? 0
    case "--root-dir":
        guard let d = arguments.popFirst() else { usage() }
        rootDirectory = d
    case "--out": out = arguments.popFirst()
    default: usage()
    }
}
guard let out, count > 0, batchSize >= 1, batchSize <= Int(Seal.maxCount) else { usage() }

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("AuditLogBuilder: \(message)\n".utf8))
    exit(1)
}

let image = EnclaveImage(executable: Array("cloister-enclave, audit benchmark".utf8), manifest: Array("{}".utf8))
let started = ContinuousClock.now
do {
    let root = try EmulatedRoot.loadOrCreate(directory: rootDirectory).root
    let module = NSMClient(transport: try SoftwareNSM(root: root, image: image))
    let identity = try await EnclaveIdentity.create(module: module, manifestBytes: Array("{}".utf8))
    let chain = ReceiptChain(identity: identity)
    let writer = try AuditStreamWriter(path: out, source: "AuditLogBuilder")
    try writer.addBoot(identity.bootDocument)
    var job: UInt64 = 0
    var index: Int64 = 0
    while Int(job) < count {
        var outcomes: [ReceiptChain.Outcome] = []
        for _ in 0..<min(batchSize, count - Int(job)) {
            job += 1
            let body = Array("job \(job)".utf8)
            let q = QueueJob(id: job, requestID: "r\(job)", tenant: "acme", operation: "echo", body: body, attempt: 1)
            let hash = RequestDigest.hash(tenant: "acme", operation: "echo", requestID: q.requestID, body: body)
            outcomes.append(ReceiptChain.Outcome(job: q, requestHash: hash, status: "ok", result: body))
        }
        let sealed = try chain.sealUnlogged(outcomes)
        var batch = AuditBatch(seal: [], entries: [])
        for s in sealed {
            let signed = try SignedReceipt(encoded: s.result.receipt)
            index += 1
            batch.seal = signed.seal
            batch.entries.append(AuditBatch.Entry(index: index, receipt: signed.receipt))
        }
        try writer.append(batch)
    }
    try writer.finish()
    let pcrs = [0, 1, 2].map { "\"PCR\($0)\": \"\(Hex.encode(image.measurements[$0]!))\"" }.joined(separator: ", ")
    try Data("{\"attestation\": {\"pcrs\": {\(pcrs)}}}\n".utf8).write(to: URL(fileURLWithPath: out + ".pins.json"))
    let seconds = Double((ContinuousClock.now - started).components.seconds)
    print("built \(count) receipts in \(writer.batches) batches of \(batchSize) in \(Int(seconds)) s: \(out) (root \(EmulatedRoot.certificatePath(rootDirectory)))")
} catch {
    fail("\(error)")
}
