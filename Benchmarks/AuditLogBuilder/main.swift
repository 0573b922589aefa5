// Builds a receipt log for Scripts/bench-audit with the enclave's own code: an identity on the software secure
// module (booted from an emulated root) whose document carries a deployment commitment, a ReceiptChain that
// receipts and seals each batch with ES384, the deployment log over those receipts (a compact range and a C2SP
// checkpoint signed by the deployment key after each batch, as DeploymentLog makes them), and the binary export
// form (AuditStreamWriter) with each batch's head and the final head. Writes OUT, and beside it OUT.pins.json (the
// PCR pins and the deployment) and the root certificate in DIR/root.pem: what `cloister audit verify --file OUT`
// needs. With --actions every receipt is a signed action (approvers named, status ok), each with its own request
// id: the worst case for the search for request ids run twice.
import CloisterClient
import EnclaveRuntime
import EnclaveWire
import Foundation
import NitroAttestation
import SecureModule
import TransparencyLog

func usage() -> Never {
    FileHandle.standardError.write(Data("usage: AuditLogBuilder --receipts N [--batch B] [--actions] [--root-dir DIR] --out FILE\n".utf8))
    exit(64)
}

var count = 0
var batchSize = 256
var actions = false
var rootDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-bench-audit-root").path
var out: String?
var arguments = CommandLine.arguments.dropFirst()
while let a = arguments.popFirst() {
    switch a {
    case "--receipts": count = arguments.popFirst().flatMap(Int.init) ?? 0
    case "--batch": batchSize = arguments.popFirst().flatMap(Int.init) ?? 0
    case "--actions": actions = true
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
    let master = try await MasterSecret.generate(module: module)
    let identity = try await EnclaveIdentity.create(module: module, manifestBytes: Array("{}".utf8), deployment: master.commitment)
    let chain = ReceiptChain(identity: identity)
    let origin = LogHead.origin(deployment: master.commitment)
    let logSigner = try NoteSigner(name: origin, key: master.deploymentKey)
    var range = CompactRange()
    let writer = try AuditStreamWriter(path: out, source: "AuditLogBuilder")
    try writer.addBoot(identity.bootDocument)
    let approver = [UInt8](repeating: 0xA5, count: 32)
    var job: UInt64 = 0
    while Int(job) < count {
        var outcomes: [ReceiptChain.Outcome] = []
        for _ in 0..<min(batchSize, count - Int(job)) {
            job += 1
            let body = Array("job \(job)".utf8)
            let operation = actions ? "key.sign" : "echo"
            let q = QueueJob(id: job, requestID: "r\(job)", tenant: "acme", operation: operation, body: body, attempt: 1)
            let hash = RequestDigest.hash(tenant: "acme", operation: operation, requestID: q.requestID, body: body)
            outcomes.append(ReceiptChain.Outcome(job: q, requestHash: hash, status: "ok", result: body, approvers: actions ? [approver] : nil))
        }
        let sealed = try chain.sealUnlogged(outcomes)
        var batch = AuditBatch(seal: [], entries: [])
        for s in sealed {
            let signed = try SignedReceipt(encoded: s.result.receipt)
            batch.seal = signed.seal
            batch.entries.append(AuditBatch.Entry(index: Int64(range.size), receipt: signed.receipt))
            try range.append(TreeHash.leaf(signed.receipt))
        }
        let checkpoint = try Checkpoint(origin: origin, size: range.size, rootHash: range.root)
        batch.head = try NoteSigner.sign(text: checkpoint.text, by: [logSigner]).encoded
        writer.head = batch.head
        try writer.append(batch)
    }
    try writer.finish()
    let pcrs = [0, 1, 2].map { "\"PCR\($0)\": \"\(Hex.encode(image.measurements[$0]!))\"" }.joined(separator: ", ")
    let pins = "{\"attestation\": {\"pcrs\": {\(pcrs)}, \"deployment\": \"\(Hex.encode(master.commitment))\"}}\n"
    try Data(pins.utf8).write(to: URL(fileURLWithPath: out + ".pins.json"))
    let seconds = Double((ContinuousClock.now - started).components.seconds)
    print(
        "built \(count) receipts\(actions ? " (signed actions)" : "") in \(writer.batches) batches of \(batchSize), with the log's heads, in \(Int(seconds)) s: \(out) (root \(EmulatedRoot.certificatePath(rootDirectory)))"
    )
} catch {
    fail("\(error)")
}
