import CloisterClient
import EnclaveWire
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import NitroAttestation
import SecureModule
import Testing
import TransparencyLog

@testable import EnclaveRuntime

/// The deployment log through real host and enclave processes: one log across boots, heads the host cannot edit,
/// and responses whose head or proof the host edits refused by the client. In `DeploymentTests`' serialized suite:
/// each test runs hosts one after another, and a suite of its own would run them beside every other suite's.
extension DeploymentTests {
    /// Every receipt the host stored, with its place in the log, ordered by index.
    static func loggedReceipts(_ f: APIFixture) async throws -> [SignedReceipt] {
        let log = try await f.client(token: f.auditorToken).exportLog()
        let signed = try log.receipts.map { try SignedReceipt(encoded: $0.entry) }
        return signed.sorted { ($0.index ?? .max) < ($1.index ?? .max) }
    }

    /// The root of the first `size` leaves.
    static func root(_ leaves: [[UInt8]], _ size: Int) throws -> [UInt8] { try TreeHash.root(leafHashes: leaves[0..<size]) }

    /// Who: the client (consistency on each newer head) and the host's endpoints. When: at the first answer of the
    /// second boot, whose head must extend the first boot's last.
    @Test func theLogContinuesAcrossBootsAndTheHostsProofsVerify() async throws {
        let f = try await K.start()
        let c = f.client()
        _ = try await K.key(c, "create", ["name": "logged", "type": "ed25519"])
        let first = try #require(c.logHead)
        #expect(first.checkpoint.size >= 2, "the registration and the creation are in the log")
        #expect(first.checkpoint.origin == LogHead.origin(deployment: try #require(c.deployment)))

        let pid = try #require(try await f.host.enclavePID())
        kill(pid, SIGKILL)
        try await f.host.waitHealthy(within: 30, notPID: pid)
        let response = try await c.call("key.describe", body: Array(#"{"name":"logged"}"#.utf8))
        let second = try #require(c.logHead)
        #expect(second.checkpoint.size == first.checkpoint.size + 1, "the second boot appends to the first boot's log")
        #expect(response.signed.signed.index == first.checkpoint.size)
        let proof = try await c.consistencyProof(from: first.checkpoint.size, to: second.checkpoint.size)
        try ConsistencyProof.verify(
            oldSize: first.checkpoint.size, newSize: second.checkpoint.size, proof: proof, oldRoot: first.checkpoint.rootHash,
            newRoot: second.checkpoint.rootHash)
        #expect(try await c.fetchLogHead() == second)

        // Every stored receipt is at its index of the head it carries; the leaves give the heads' roots; every proof
        // the host serves between two sizes verifies.
        let receipts = try await Self.loggedReceipts(f)
        #expect(receipts.compactMap(\.index) == Array(0..<second.checkpoint.size))
        let deployment = try #require(c.deployment)
        for r in receipts { _ = try LogHead.verifyInclusion(r, deployment: deployment) }
        // The stored head carries the batch that made it (so a batch whose results never arrive is not lost).
        let (_, headBytes) = try #require(try K.HostView(f).blob(LogHeadRecord.storeKey))
        let batch = try LogHeadRecord(encoded: headBytes).batch.map { try SignedReceipt(encoded: $0) }
        #expect(batch.last?.index == second.checkpoint.size - 1)
        #expect(!batch.isEmpty && batch.allSatisfy { receipts.contains($0) })
        let leaves = receipts.map { TreeHash.leaf($0.receipt) }
        #expect(try Self.root(leaves, leaves.count) == second.checkpoint.rootHash)
        for a in 1...leaves.count {
            for b in a...leaves.count {
                let proof = try await c.consistencyProof(from: UInt64(a), to: UInt64(b))
                try ConsistencyProof.verify(
                    oldSize: UInt64(a), newSize: UInt64(b), proof: proof, oldRoot: try Self.root(leaves, a), newRoot: try Self.root(leaves, b))
            }
        }
        let (status, body, _) = try await f.http("GET", "v1/log/consistency?from=2&to=\(leaves.count + 1)", headers: ["Authorization": "Bearer " + f.tenantToken])
        // A size the log has not reached is no size of this log: refused at once, not waited for.
        #expect(status == 404 && APIFixture.errorCode(body) == "beyondLogHead", "\(status) \(String(decoding: body, as: UTF8.self))")
        let (unauthorized, _, _) = try await f.http("GET", "v1/log/head")
        #expect(unauthorized == 401)
    }

    /// Who: the host, reading its database for many clients at once. Reads that waited for a free reader on a
    /// thread of the cooperative pool (GRDB's synchronous `read`, which Swift picks for rows) took every such thread
    /// while the readers were held by reads that needed one of them to finish: the host stopped answering anything,
    /// the enclave's store requests included.
    @Test func manyConcurrentLogReadsNeverStopTheHost() async throws {
        let f = try await K.start()
        let c = f.client()
        _ = try await K.key(c, "create", ["name": "read-often", "type": "ed25519"])
        let size = try #require(c.logHead).checkpoint.size
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = 200
        configuration.timeoutIntervalForRequest = 120
        let session = URLSession(configuration: configuration)
        let paths = ["v1/log/consistency?from=1&to=\(size)", "v1/log/head", "v1/log/receipts?from=0", "v1/boots"]
        // A host that stops never answers: the watchdog cancels what is left, and the reads fail.
        let watchdog = Task {
            try await Task.sleep(for: .seconds(90))
            session.invalidateAndCancel()
        }
        defer { watchdog.cancel() }
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<400 {
                group.addTask {
                    var request = URLRequest(url: URL(string: paths[i % paths.count], relativeTo: f.base)!)
                    request.setValue("Bearer " + f.auditorToken, forHTTPHeaderField: "Authorization")
                    let (_, response) = try await session.data(for: request)
                    return (response as! HTTPURLResponse).statusCode
                }
            }
            return try await group.reduce(into: [Int: Int]()) { $0[$1, default: 0] += 1 }
        }
        #expect(statuses == [200: 400], "\(statuses)")
        // And the enclave's store requests were answered meanwhile: a change goes through.
        _ = try await K.key(c, "rotate", ["name": "read-often"])
    }

    /// Who: the enclave, at boot, before it serves anything.
    @Test func aStoredHeadTheHostEditedIsRefusedAtBoot() async throws {
        let f = try await K.start()
        try await Self.stop(f)
        let (version, bytes) = try #require(try K.HostView(f).blob(LogHeadRecord.storeKey))
        let record = try LogHeadRecord(encoded: bytes)
        let note = try SignedNote(parsing: record.checkpoint)
        let checkpoint = try Checkpoint(parsing: note.text)
        func flipped(_ b: [UInt8]) -> [UInt8] { [b[0] ^ 0x01] + b.dropFirst() }

        var rangeEdited = record
        rangeEdited.hashes[0] = flipped(record.hashes[0])
        var rootEdited = record
        let otherRoot = try Checkpoint(origin: checkpoint.origin, size: checkpoint.size, rootHash: flipped(checkpoint.rootHash))
        rootEdited.checkpoint = try SignedNote(text: otherRoot.text, signatures: note.signatures).encoded
        var signatureEdited = record
        let signature = note.signatures[0]
        signatureEdited.checkpoint = try SignedNote(
            text: note.text, signatures: [try NoteSignature(name: signature.name, keyID: signature.keyID, signature: flipped(signature.signature))]
        ).encoded
        let other = try Ed25519Key(seed: Random.bytes(32))
        let otherOrigin = "cloister/" + Hex.encode(other.publicKey).lowercased()
        var anotherDeployments = record
        anotherDeployments.checkpoint = try NoteSigner.sign(
            text: try Checkpoint(origin: otherOrigin, size: checkpoint.size, rootHash: checkpoint.rootHash).text,
            by: [try NoteSigner(name: otherOrigin, key: other)]
        ).encoded

        for edited in [rangeEdited, rootEdited, signatureEdited, anotherDeployments] {
            try K.HostView(f).put(LogHeadRecord.storeKey, version: version, value: edited.encoded)
            try await Self.expectRefused(try await K.start(restart: f, wait: false), "logHeadInvalid")
        }

        // The real head back: the log goes on from it.
        try K.HostView(f).put(LogHeadRecord.storeKey, version: version, value: bytes)
        let g = try await K.start(restart: f)
        let c = g.client()
        _ = try await K.key(c, "create", ["name": "after", "type": "ed25519"])
        #expect(c.logHead?.checkpoint.size == checkpoint.size + 1)
    }

    /// Who: the client, on the answer itself (the head and proof) or on the host's consistency proof.
    @Test func aHeadOrProofTheHostEditsInAResponseIsRefused() async throws {
        let f = try await K.start()
        let proxy = HostileProxy(upstream: f.base)
        let url = try await proxy.start()
        defer { proxy.stop() }
        let c = f.client(base: url)
        _ = try await K.key(c, "create", ["name": "proxied", "type": "ed25519"])
        let seen = try #require(c.logHead)
        let origin = seen.checkpoint.origin
        let impostor = try NoteSigner(name: origin, key: try Ed25519Key(seed: Random.bytes(32)))

        let cases: [(String, HostileProxy.Tamper, ClientError.Code)] = [
            ("the head's origin edited", .editResponse { r in r.signed.head![origin.utf8.count - 1] ^= 0x01 }, .logProofInvalid),
            (
                "the head signed by another key under the deployment's name",
                .editResponse { r in
                    let text = try! SignedNote(parsing: r.signed.head!).text
                    r.signed.head = try! NoteSigner.sign(text: text, by: [impostor]).encoded
                }, .logProofInvalid
            ),
            ("a node of the inclusion proof edited", .editResponse { r in r.signed.logProof![0][0] ^= 0x01 }, .logProofInvalid),
            ("the index moved", .editResponse { r in r.signed.index! -= 1 }, .logProofInvalid),
            (
                "the head and its proof removed",
                .editResponse { r in
                    r.signed.index = nil
                    r.signed.head = nil
                    r.signed.logProof = nil
                }, .logHeadMissing
            ),
            ("the host's consistency proof edited", .editConsistencyProof, .logForked),
        ]
        for (name, tamper, code) in cases {
            proxy.set(tamper)
            do {
                _ = try await c.call("key.describe", body: Array(#"{"name":"proxied"}"#.utf8))
                Issue.record("accepted: \(name)")
            } catch {
                #expect(error.code == code, "\(name): \(error)")
            }
        }
        #expect(c.logHead == seen, "no refused head became the newest one seen")
        proxy.set(.none)
        _ = try await c.call("key.describe", body: Array(#"{"name":"proxied"}"#.utf8))
        #expect(try #require(c.logHead).checkpoint.size > seen.checkpoint.size)
    }
}
