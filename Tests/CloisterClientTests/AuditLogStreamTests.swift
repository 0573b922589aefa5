import CloisterClient
import EnclaveWire
import Foundation
import NitroAttestation
import SecureModule
import Testing
import TransparencyLog

@testable import EnclaveRuntime

/// The deployment log in the binary export: who detects what a host does to the receipts it exports, and when.
/// Every case is detected by `AuditVerifier` (what `cloister audit verify` runs), offline, from the root, the pins
/// and the file, as it streams the file: at the first index it cannot account for, or at the final head.
@Suite struct AuditLogStreamTests {
    let verifier = AuditVerifier(trust: TestEnclave.trust, roots: TestEnclave.roots)

    /// Two boots of one deployment, batches interleaved as the enclaves appended them: a 3, b 1, a 5, b 4 (log
    /// indexes 0...12); the final head is the last batch's.
    struct Fixture {
        var deployment: LoggedDeployment
        var a: TestEnclave
        var b: TestEnclave
        var batches: [AuditBatch]
        var boots: [String: [UInt8]]
        var head: [UInt8]
        var records: [AuditRecord] { batches.map { .batch($0) } }
    }

    static func fixture() async throws -> Fixture {
        let d = try LoggedDeployment()
        let a = try await TestEnclave(of: d)
        let b = try await TestEnclave(of: d)
        var batches: [AuditBatch] = []
        for (enclave, count) in [(a, 3), (b, 1), (a, 5), (b, 4)] { batches.append(batch(try await enclave.logged(count))) }
        return Fixture(deployment: d, a: a, b: b, batches: batches, boots: a.boots.merging(b.boots) { x, _ in x }, head: batches.last!.head!)
    }

    static func write(_ records: [AuditRecord], boots: [String: [UInt8]], head: [UInt8]?) throws -> String {
        let path = AuditStreamTests.path()
        let writer = try AuditStreamWriter(path: path, source: "test")
        writer.head = head
        for hex in boots.keys.sorted() { try writer.addBoot(boots[hex]!) }
        for r in records {
            switch r {
            case .batch(let b): try writer.append(b)
            case .gap(let from, let count): try writer.markGap(from: from, count: count)
            }
        }
        try writer.finish()
        return path
    }

    func verify(_ f: Fixture, _ records: [AuditRecord]? = nil, head: [UInt8]?? = nil, with verifier: AuditVerifier? = nil) throws -> AuditVerifier.Report {
        let path = try Self.write(records ?? f.records, boots: f.boots, head: head ?? f.head)
        return (verifier ?? self.verifier).verify(try AuditStreamReader(path: path))
    }

    static func flipped(_ b: [UInt8], at i: Int = 0) -> [UInt8] {
        var b = b
        b[i] ^= 0x01
        return b
    }

    /// A head signed by `master`'s deployment key over `root` at `size`, as only the enclave (or a fork of it) signs.
    static func head(_ master: MasterSecret, size: UInt64, root: [UInt8]) throws -> [UInt8] {
        let origin = LogHead.origin(deployment: master.commitment)
        let checkpoint = try Checkpoint(origin: origin, size: size, rootHash: root)
        return try NoteSigner.sign(text: checkpoint.text, by: [try NoteSigner(name: origin, key: master.deploymentKey)]).encoded
    }

    @Test func aWholeLogPassesWithItsFinalHead() async throws {
        let f = try await Self.fixture()
        let report = try verify(f)
        #expect(report.passed, "\(String(describing: report.failure))")
        #expect(report.verified == 13)
        #expect(report.log?.size == 13)
        #expect(report.log == (try LogHead.verify(f.head, deployment: f.deployment.commitment)).checkpoint)
        // The same with the deployment pinned, as a third party with the manifest checks it.
        var trust = TestEnclave.trust
        trust.deployment = f.deployment.commitment
        let pinned = try verify(f, with: AuditVerifier(trust: trust, roots: TestEnclave.roots))
        #expect(pinned.passed && pinned.log?.size == 13, "\(String(describing: pinned.failure))")
    }

    @Test func theExportWriterFilesEachReceiptUnderItsLogIndexAndHead() async throws {
        let f = try await Self.fixture()
        let path = AuditStreamTests.path()
        let writer = try AuditStreamWriter(path: path, source: "test")
        writer.head = f.head
        for hex in f.boots.keys.sorted() { try writer.addBoot(f.boots[hex]!) }
        // Host numbers unrelated to the log: the writer takes each receipt's own index.
        for (i, b) in f.batches.enumerated() {
            for e in b.entries {
                let signed = SignedReceipt(receipt: e.receipt, seal: b.seal, proof: [], index: UInt64(e.index), head: b.head, logProof: [])
                try writer.append(index: 1000 + Int64(i), signed: signed.encoded)
            }
        }
        try writer.finish()
        let reader = try AuditStreamReader(path: path)
        #expect(reader.header.format == AuditStream.format && reader.header.head == f.head)
        var read: [AuditBatch] = []
        while let r = try reader.next() { read.append(try #require(r.batch)) }
        #expect(read == f.batches)
        #expect(verifier.verify(try AuditStreamReader(path: path)).passed)
    }

    /// Who: the auditor's verify. When: at the first log index with no receipt (a drop), or at the final head (a cut tail).
    @Test func receiptsTheHostDropsAreMissingAtTheirIndex() async throws {
        let f = try await Self.fixture()
        var b = f.batches
        b[2].entries.remove(at: 2)  // log index 6, inside a's second batch
        var r = try verify(f, b.map { .batch($0) })
        #expect(r.failure?.code == .receiptMissing && r.failureIndex == 6, "\(String(describing: r.failure))")

        b = f.batches
        b.remove(at: 1)  // b's first batch: index 3
        r = try verify(f, b.map { .batch($0) })
        #expect(r.failure?.code == .receiptMissing && r.failureIndex == 3, "\(String(describing: r.failure))")

        // Every receipt of boot b, and its document: the chains of a alone are whole, the log is not.
        r = try verify(f, [f.batches[0], f.batches[2]].map { .batch($0) })
        #expect(r.failure?.code == .receiptMissing && r.failureIndex == 3, "\(String(describing: r.failure))")

        // The tail cut below the final head.
        r = try verify(f, f.records.dropLast())
        #expect(r.failure?.code == .receiptMissing && r.failureIndex == 9, "\(String(describing: r.failure))")
        #expect(r.verified == 9)
        b = f.batches
        b[3].entries.removeLast(2)
        r = try verify(f, b.map { .batch($0) } + [.gap(from: 11, count: 2)])
        #expect(r.failure?.code == .receiptMissing && r.failureIndex == 11, "a batch's tail: \(String(describing: r.failure))")

        // A gap the exporter marked (the host did not have index 3).
        r = try verify(f, [.batch(f.batches[0]), .gap(from: 3, count: 1)] + f.records.dropFirst(2))
        #expect(r.failure?.code == .receiptMissing && r.failureIndex == 3, "\(String(describing: r.failure))")
        #expect(r.failure?.message.contains("not on the host") == true)

        // Cut with the final head rolled back to the cut: consistent in itself, and passed. A newer head seen
        // elsewhere (a client's, a witness's) is what shows it.
        r = try verify(f, f.records.dropLast(), head: f.batches[2].head)
        #expect(r.passed && r.log?.size == 9, "\(String(describing: r.failure))")
        var seeing = verifier
        seeing.seenHeads = [try #require(f.batches[3].head)]
        r = try verify(f, f.records.dropLast(), head: f.batches[2].head, with: seeing)
        #expect(r.failure?.code == .receiptMissing && r.failureIndex == 9, "a head seen elsewhere: \(String(describing: r.failure))")
    }

    /// Who: the auditor's verify, given heads seen elsewhere (`cloister audit verify --head`, the CLI's remembered
    /// head, a witness's cosigned one). When: as the log reaches each head's size, and at the end.
    @Test func headsSeenElsewhereMustBeInTheExportAndWitnessesCount() async throws {
        let f = try await Self.fixture()
        let master = f.deployment.master
        let witness = try NoteSigner(name: "witness.test/audit", type: .cosignatureV1, key: try Ed25519Key(seed: Random.bytes(32)))
        func cosigned(_ note: [UInt8]) throws -> [UInt8] {
            let n = try SignedNote(parsing: note)
            return try SignedNote(text: n.text, signatures: n.signatures + [try witness.sign(text: n.text, timestamp: 1_800_000_000)]).encoded
        }
        var v = verifier
        v.seenHeads = [try cosigned(try #require(f.batches[1].head)), f.head]
        v.witnesses = [witness.verifierKey]
        v.witnessQuorum = 1
        var r = try verify(f, with: v)
        #expect(r.passed, "heads the export holds, one witnessed: \(String(describing: r.failure))")
        // Another log's head of a size the export passes: a fork.
        v.seenHeads = [try Self.head(master, size: f.batches[1].entries.last.map { UInt64($0.index) + 1 } ?? 0, root: [UInt8](repeating: 7, count: 32))]
        r = try verify(f, with: v)
        #expect(r.failure?.code == .logForked, "\(String(describing: r.failure))")
        // A head of a size where no batch of the export ends is not of this log either.
        v.seenHeads = [try Self.head(master, size: 2, root: [UInt8](repeating: 7, count: 32))]
        r = try verify(f, with: v)
        #expect(r.failure?.code == .logForked, "\(String(describing: r.failure))")
        // The witness's cosignature missing: the quorum is not met.
        v.seenHeads = [f.head]
        r = try verify(f, with: v)
        #expect(r.failure?.code == .witnessQuorumMissing, "\(String(describing: r.failure))")
        // A head that is not the deployment's.
        v.seenHeads = [Self.flipped(f.head, at: 10)]
        v.witnessQuorum = 0
        r = try verify(f, with: v)
        #expect(r.failure?.code == .logProofInvalid, "\(String(describing: r.failure))")
    }

    @Test func repeatedIndexesAndHeadsThatAreNotTheLogAreNamed() async throws {
        let f = try await Self.fixture()
        let master = f.deployment.master
        func check(_ records: [AuditRecord], head: [UInt8]?? = nil, _ code: ClientError.Code, index: Int64?, _ comment: Comment) throws {
            let r = try verify(f, records, head: head)
            #expect(r.failure?.code == code, "\(comment): \(String(describing: r.failure))")
            if let index { #expect(r.failureIndex == index, comment) }
        }
        var b = f.batches
        b.insert(f.batches[1], at: 2)
        try check(b.map { .batch($0) }, .duplicateIndex, index: 3, "a batch record repeated")
        b = f.batches
        b[2].entries.insert(b[2].entries[0], at: 1)
        try check(b.map { .batch($0) }, .duplicateIndex, index: 4, "an entry repeated inside a batch")

        b = f.batches
        b[1].head = Self.flipped(b[1].head!, at: b[1].head!.count - 3)
        try check(b.map { .batch($0) }, .logProofInvalid, index: 3, "a head's signature edited")
        let other = try LoggedDeployment()
        let theirs = try await TestEnclave(of: other)
        b = f.batches
        b[0].head = try await theirs.logged(3)[0].head
        try check(b.map { .batch($0) }, .logProofInvalid, index: 0, "another deployment's head of the same size")

        b = f.batches
        b[2].head = f.batches[0].head
        try check(b.map { .batch($0) }, .logForked, index: 4, "an earlier, smaller head after a larger one")
        b = f.batches
        b[0].head = f.batches[2].head
        try check(b.map { .batch($0) }, .logHeadMismatch, index: 0, "a later head on an earlier batch")
        b = f.batches
        let size3 = try LogHead.verify(f.batches[1].head!, deployment: f.deployment.commitment).checkpoint
        b[1].head = try Self.head(master, size: size3.size, root: Self.flipped(size3.rootHash))
        try check(b.map { .batch($0) }, .logHeadMismatch, index: 3, "a head the deployment key signed over another log")

        let final = try LogHead.verify(f.head, deployment: f.deployment.commitment).checkpoint
        try check(f.records, head: try Self.head(master, size: final.size, root: Self.flipped(final.rootHash)), .logForked, index: nil, "two final heads of one size")
        try check(f.records, head: f.batches[0].head, .logForked, index: nil, "a final head smaller than the log")
        try check(f.records, head: .some(nil), .logHeadMissing, index: nil, "no final head")
        b = f.batches
        b[3].head = nil
        try check(b.map { .batch($0) }, .logHeadMissing, index: 9, "a batch without its head after batches with theirs")
    }

    /// Who: the auditor's verify, after the whole file: the enclave runs an action once per boot and binds it to
    /// one boot, so two executions of one request id are a failure of the enclave or of its replay protection.
    @Test func aRequestRunAsTwoSignedActionsIsADuplicateRequest() async throws {
        let d = try LoggedDeployment()
        let a = try await TestEnclave(of: d)
        let b = try await TestEnclave(of: d)
        let approver = [[UInt8](repeating: 7, count: 32)]
        let pay = TestEnclave.Job(operation: "key.sign", requestID: "pay-1", approvers: approver)
        var batches = [batch(try await a.logged([pay, TestEnclave.Job(operation: "key.sign", requestID: "other", approvers: approver)]))]
        // Not repeats: the same id refused as a replay, read, or sent by another tenant.
        batches.append(batch(try await b.logged([TestEnclave.Job(operation: "key.sign", requestID: "pay-1", status: "actionReplayed")])))
        batches.append(batch(try await b.logged([TestEnclave.Job(operation: "key.describe", requestID: "pay-1")])))
        batches.append(batch(try await b.logged([TestEnclave.Job(operation: "key.sign", requestID: "pay-1", tenant: "globex", approvers: approver)])))
        let boots = a.boots.merging(b.boots) { x, _ in x }
        let clean = verifier.verify(try AuditStreamReader(path: try Self.write(batches.map { .batch($0) }, boots: boots, head: batches.last!.head)))
        #expect(clean.passed && clean.actions == 3, "\(String(describing: clean.failure))")

        batches.append(batch(try await b.logged([pay])))
        let report = verifier.verify(try AuditStreamReader(path: try Self.write(batches.map { .batch($0) }, boots: boots, head: batches.last!.head)))
        #expect(report.failure?.code == .duplicateRequest, "\(String(describing: report.failure))")
        #expect(report.failureIndex == 5)
        let message = try #require(report.failure?.message)
        #expect(message.contains("request pay-1 of tenant acme") && message.contains("entry 0 (key.sign") && message.contains("entry 5 (key.sign"), "\(message)")
        #expect(report.log?.size == 6 && report.verified == 6)

        // The JSON form names it the same way.
        var entries: [AuditLog.Entry] = []
        for bt in batches {
            for e in bt.entries { entries.append(.init(index: e.index, entry: SignedReceipt(receipt: e.receipt, seal: bt.seal, proof: try proof(e, in: bt)).encoded)) }
        }
        let json = verifier.verify(AuditLog(source: "test", receipts: entries, boots: boots))
        #expect(json.failure?.code == .duplicateRequest && json.failureIndex == 5, "\(String(describing: json.failure))")
    }

    /// The receipt's Merkle proof under its batch's seal.
    func proof(_ e: AuditBatch.Entry, in b: AuditBatch) throws -> [[UInt8]] {
        let leaves = b.entries.map { MerkleTree.leafHash($0.receipt) }
        let i = try #require(b.entries.firstIndex(of: e))
        return MerkleTree.rootAndProofs(leafHashes: leaves).proofs[i]
    }
}
