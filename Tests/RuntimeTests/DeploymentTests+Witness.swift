import CloisterClient
import CloisterTestSupport
import EnclaveWire
import Foundation
import NitroAttestation
import SecureModule
import Testing
import TransparencyLog

/// Witnesses of the deployment log through real host, enclave and `cloister audit witness` processes: a witness
/// follows the host and cosigns, the host keeps only pinned, newer cosignatures, clients count them, and a host
/// that edits a proof, shows an older head or forks the log after a rollback is refused with evidence that
/// `cloister audit evidence` judges offline. In `DeploymentTests`' serialized suite, like the log's own tests.
extension DeploymentTests {
    /// A witness made with the CLI: its key file and the verifier key it printed.
    struct TestWitness {
        let keyFile: String
        let verifierKey: NoteVerifierKey
        let directory: URL
        var state: String { directory.appendingPathComponent("state.json").path }
        var evidence: URL { directory.appendingPathComponent("evidence") }

        init(_ name: String) async throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-witness-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            keyFile = directory.appendingPathComponent("witness.key").path
            let made = try await BuiltTool.run("cloister", ["audit", "witness-keygen", "--name", name, "--out", keyFile], environment: [:])
            guard made.status == 0 else { throw HarnessError("witness-keygen: \(made.stderr)") }
            verifierKey = try NoteVerifierKey(parsing: made.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        }

        /// The manifest's log section pinning these witnesses.
        static func log(_ witnesses: [TestWitness]) -> [String: any Sendable] { ["witnesses": witnesses.map { $0.verifierKey.encoded }, "quorum": 0] }

        /// One round (`--once`) against `base` with `token`.
        func round(_ base: URL, token: String, deployment: [UInt8]) async throws -> BuiltTool.Output {
            try await BuiltTool.run(
                "cloister",
                ["audit", "witness", base.absoluteString, "--key", keyFile, "--state", state, "--deployment", Hex.encode(deployment), "--token", token,
                 "--evidence", evidence.path, "--once"], environment: [:])
        }

        /// The evidence files written so far.
        func evidenceFiles() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: evidence.path)) ?? []).sorted().map { evidence.appendingPathComponent($0).path }
        }

        /// `cloister audit evidence FILE --deployment HEX`.
        static func judge(_ file: String, deployment: [UInt8], json: Bool = false) async throws -> BuiltTool.Output {
            try await BuiltTool.run("cloister", ["audit", "evidence", file, "--deployment", Hex.encode(deployment)] + (json ? ["--json"] : []), environment: [:])
        }

        /// The head in the witness's state file.
        func stateSize() throws -> UInt64? {
            guard let data = FileManager.default.contents(atPath: state), let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
                let note = object["checkpoint"] as? String
            else { return nil }
            return try Checkpoint(parsing: try SignedNote(parsing: Array(note.utf8)).text).size
        }
    }

    /// The host's kept witnessed heads, by name.
    static func keptWitnessNotes(_ f: APIFixture) async throws -> [String: [UInt8]] {
        let (status, body, _) = try await f.http("GET", "v1/log/witnesses", headers: ["Authorization": "Bearer " + f.tenantToken])
        #expect(status == 200)
        let list = ((try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])?["witnesses"] as? [[String: String]]) ?? []
        return Dictionary(uniqueKeysWithValues: list.map { ($0["name"]!, Array($0["note"]!.utf8)) })
    }

    /// `POST /v1/log/witness` with `body` and the auditor's token: status and error code.
    static func handIn(_ f: APIFixture, _ body: [UInt8], token: String? = nil) async throws -> (Int, String?) {
        let (status, answer, _) = try await f.http("POST", "v1/log/witness", headers: ["Authorization": "Bearer " + (token ?? f.auditorToken)], body: body)
        return (status, APIFixture.errorCode(answer))
    }

    /// Who: the witness (rounds between batches, then as a service with its listener), the host (what it keeps and
    /// refuses), the client (its quorum).
    @Test func aWitnessFollowsTheLogAndTheHostKeepsItsCosignatures() async throws {
        let w = try await TestWitness("witness.test/w1")
        let again = try await BuiltTool.run("cloister", ["audit", "witness-keygen", "--name", "other", "--out", w.keyFile], environment: [:])
        #expect(again.status == 1 && again.stderr.contains("keyExists"), "a key file is never overwritten: \(again.stderr)")
        let f = try await K.start(log: TestWitness.log([w]))
        let c = f.client()
        _ = try await K.key(c, "create", ["name": "w-0", "type": "ed25519"])
        let deployment = try #require(c.deployment)
        let counting = CloisterClient(
            baseURL: f.base, token: f.tenantToken, trust: f.trust, roots: f.roots, tenant: "acme", witnesses: [w.verifierKey], witnessQuorum: 1)
        await #expect(throws: ClientError(.witnessQuorumMissing, "")) { try await counting.checkWitnesses() }

        var first: [UInt8] = []
        for i in 1...3 {
            _ = try await K.key(c, "create", ["name": "w-\(i)", "type": "ed25519"])
            let round = try await w.round(f.base, token: f.auditorToken, deployment: deployment)
            #expect(round.status == 0, "\(round.stderr)")
            let head = try await c.fetchLogHead()
            #expect(try w.stateSize() == head.checkpoint.size, "the state holds the newest head")
            let kept = try #require(try await Self.keptWitnessNotes(f)[w.verifierKey.name])
            let witnessed = try WitnessedHead.verify(kept, deployment: deployment, witness: w.verifierKey)
            #expect(witnessed.head.checkpoint == head.checkpoint)
            #expect(try K.HostView(f).blob("witness/\(w.verifierKey.name)")?.1 == kept, "kept where the enclave reads it")
            if i == 1 { first = kept }
        }
        let report = try await counting.checkWitnesses()
        #expect(report.witnessed.map(\.witness) == [w.verifierKey])
        #expect(report.head.checkpoint == (try await c.fetchLogHead()).checkpoint)

        // The same head is cosigned again, later.
        let before = try WitnessedHead.verify(try #require(try await Self.keptWitnessNotes(f)[w.verifierKey.name]), deployment: deployment, witness: w.verifierKey)
        try await Task.sleep(for: .milliseconds(1100))
        let unchanged = try await w.round(f.base, token: f.auditorToken, deployment: deployment)
        #expect(unchanged.status == 0 && unchanged.stdout.contains("unchanged"), "\(unchanged.stdout) \(unchanged.stderr)")
        let after = try WitnessedHead.verify(try #require(try await Self.keptWitnessNotes(f)[w.verifierKey.name]), deployment: deployment, witness: w.verifierKey)
        #expect(after.time > before.time && after.head.checkpoint == before.head.checkpoint)

        // What the host refuses.
        let current = try await c.fetchLogHead()
        let stranger = try NoteSigner(name: w.verifierKey.name, type: .cosignatureV1, key: try Ed25519Key(seed: Random.bytes(32)))
        let note = try SignedNote(parsing: current.note)
        let unpinned = try SignedNote(text: note.text, signatures: note.signatures + [try stranger.sign(text: note.text, timestamp: 1_800_000_000)]).encoded
        var flipped = note.signatures[0].signature
        flipped[0] ^= 0x01
        let unsigned = try SignedNote(text: note.text, signatures: [try NoteSignature(name: note.signatures[0].name, keyID: note.signatures[0].keyID, signature: flipped)])
        let other = TestDeployment()
        let elsewhere = other.head(TestDeployment.leaves(3), size: 3)
        let cases: [(String, [UInt8], String?, Int, String)] = [
            ("a tenant's token", first, f.tenantToken, 403, "forbidden"),
            ("no token", first, "", 401, "unauthorized"),
            ("a cosignature by a key the manifest does not pin", unpinned, nil, 403, "unknownWitness"),
            ("the deployment's head without a cosignature", current.note, nil, 403, "unknownWitness"),
            ("an older cosigned head", first, nil, 409, "witnessBehind"),
            ("not a note", Array("hello\n".utf8), nil, 400, "malformedNote"),
            ("not UTF-8", [0xFF, 0x0A, 0x0A], nil, 400, "malformedNote"),
            ("another log's head", elsewhere, nil, 400, "wrongLog"),
            ("a head whose deployment signature is edited", unsigned.encoded, nil, 400, "logSignatureInvalid"),
            ("an oversized body", Array(repeating: 0x61, count: SignedNote.maxBytes + 1), nil, 413, "bodyTooLarge"),
        ]
        for (name, body, token, status, code) in cases {
            let (s, c) = try await Self.handIn(f, body, token: token)
            #expect(s == status && c == code, "\(name): \(s) \(c ?? "")")
        }
        #expect(try WitnessedHead.verify(try #require(try await Self.keptWitnessNotes(f)[w.verifierKey.name]), deployment: deployment, witness: w.verifierKey) == after)
        let (unauthorized, _, _) = try await f.http("GET", "v1/log/witnesses")
        #expect(unauthorized == 401)

        // As a service: it cosigns each new head and serves it.
        let service = try WitnessProcess(
            [f.base.absoluteString, "--key", w.keyFile, "--state", w.state, "--deployment", Hex.encode(deployment), "--token", f.auditorToken, "--listen",
             "127.0.0.1:0", "--interval", "1", "--evidence", w.evidence.path], directory: w.directory)
        let listener = URL(string: "http://127.0.0.1:\(try await service.port())/")!
        _ = try await K.key(c, "create", ["name": "w-served", "type": "ed25519"])
        let newest = try await c.fetchLogHead()
        var served: WitnessedHead?
        let deadline = Date().addingTimeInterval(30)
        while served?.head.checkpoint != newest.checkpoint && Date() < deadline {
            if let (status, body, _) = try? await APIFixture.http("GET", listener, "checkpoint"), status == 200 {
                served = try WitnessedHead.verify(body, deployment: deployment, witness: w.verifierKey)
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(served?.head.checkpoint == newest.checkpoint, "\(service.output)")
        let (health, body, _) = try await APIFixture.http("GET", listener, "healthz")
        #expect(health == 200, "\(String(decoding: body, as: UTF8.self))")
        #expect((try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])?["status"] as? String == "ok")
        #expect(try await service.stop() == 0, "\(service.output)")
        #expect(w.evidenceFiles().isEmpty, "nothing was refused")
    }

    /// Who: the witness, on the host's answers (a proxy edits them), before it cosigns; then the evidence check.
    @Test func aWitnessRefusesAnEditedProofAndAnOlderHeadAndKeepsEvidence() async throws {
        let w = try await TestWitness("witness.test/w2")
        let f = try await K.start(log: TestWitness.log([w]))
        let proxy = HostileProxy(upstream: f.base)
        let url = try await proxy.start()
        defer { proxy.stop() }
        let c = f.client()
        _ = try await K.key(c, "create", ["name": "p-1", "type": "ed25519"])
        let deployment = try #require(c.deployment)
        let old = try await c.fetchLogHead()
        #expect(try await w.round(url, token: f.auditorToken, deployment: deployment).status == 0)

        _ = try await K.key(c, "create", ["name": "p-2", "type": "ed25519"])
        proxy.set(.editConsistencyProof)
        let edited = try await w.round(url, token: f.auditorToken, deployment: deployment)
        #expect(edited.status == 2 && edited.stderr.contains("logForked"), "\(edited.stderr)")
        #expect(try w.stateSize() == old.checkpoint.size, "a refused head is not kept")
        let proofEvidence = try #require(w.evidenceFiles().first)
        let judged = try await TestWitness.judge(proofEvidence, deployment: deployment)
        #expect(judged.status == 1 && judged.stdout.contains("NOT PROVEN (proofFailed)"), "\(judged.stdout) \(judged.stderr)")
        let kept = try WitnessedHead.verify(try #require(try await Self.keptWitnessNotes(f)[w.verifierKey.name]), deployment: deployment, witness: w.verifierKey)
        #expect(kept.head.checkpoint == old.checkpoint, "the host got no cosignature of the refused head")

        // The real proof: accepted.
        proxy.set(.none)
        #expect(try await w.round(url, token: f.auditorToken, deployment: deployment).status == 0)
        let newer = try await c.fetchLogHead()
        #expect(try w.stateSize() == newer.checkpoint.size)

        // The host shows the older head again.
        proxy.set(.serveLogHead(old.note))
        let rolledBack = try await w.round(url, token: f.auditorToken, deployment: deployment)
        #expect(rolledBack.status == 2 && rolledBack.stderr.contains("logRolledBack"), "\(rolledBack.stderr)")
        #expect(try w.stateSize() == newer.checkpoint.size)
        let rollbackEvidence = try #require(w.evidenceFiles().first { $0 != proofEvidence })
        let json = try await TestWitness.judge(rollbackEvidence, deployment: deployment, json: true)
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(json.status == 1 && report?["proven"] as? Bool == false && report?["finding"] as? String == "olderHead", "\(json.stdout)")
        let wrongDeployment = try await TestWitness.judge(rollbackEvidence, deployment: TestDeployment().commitment)
        #expect(wrongDeployment.status == 2 && wrongDeployment.stderr.contains("malformedEvidence"))
    }

    /// Who: the witness and a client that saw the newer head. The host restores an older `log/head` and hides the
    /// witness's cosignature; the enclave (no quorum required) signs a second head of the size the witness cosigned.
    @Test func aForkAfterARollbackIsProvenByTheEvidenceOfTheWitnessAndTheClient() async throws {
        let w = try await TestWitness("witness.test/w3")
        let log = TestWitness.log([w])
        let f = try await K.start(log: log)
        let c = f.client()
        _ = try await K.key(c, "create", ["name": "f-1", "type": "ed25519"])
        let deployment = try #require(c.deployment)
        let (_, earlier) = try #require(try K.HostView(f).blob(LogHeadRecord.storeKey))
        _ = try await K.key(c, "create", ["name": "f-2", "type": "ed25519"])
        let cosigned = try await c.fetchLogHead()
        #expect(try await w.round(f.base, token: f.auditorToken, deployment: deployment).status == 0)

        try await Self.stop(f)
        let (version, _) = try #require(try K.HostView(f).blob(LogHeadRecord.storeKey))
        try K.HostView(f).put(LogHeadRecord.storeKey, version: version, value: earlier)
        try K.HostView(f).delete("witness/\(w.verifierKey.name)")
        let g = try await K.start(restart: f, log: log)
        let d = g.client()
        _ = try await K.key(d, "create", ["name": "f-other", "type": "ed25519"])
        let fork = try await d.fetchLogHead()
        #expect(fork.checkpoint.size == cosigned.checkpoint.size && fork.checkpoint.rootHash != cosigned.checkpoint.rootHash)

        let refused = try await w.round(g.base, token: g.auditorToken, deployment: deployment)
        #expect(refused.status == 2 && refused.stderr.contains("logForked"), "\(refused.stderr)")
        let file = try #require(w.evidenceFiles().first)
        let judged = try await TestWitness.judge(file, deployment: deployment)
        #expect(judged.status == 0 && judged.stdout.contains("PROVEN (forkProven)"), "\(judged.stdout) \(judged.stderr)")
        #expect(try await Self.keptWitnessNotes(g)[w.verifierKey.name] == nil, "the host got no cosignature of the fork")

        // The client that saw the first head of that size (same ports: the same URL) refuses the second, with
        // evidence that proves the fork on its own.
        #expect(c.logHead?.checkpoint == cosigned.checkpoint)
        do {
            try await c.updateLogHead()
            Issue.record("a client that saw the witnessed head accepted the fork")
        } catch {
            #expect(error.code == .logForked, "\(error)")
            let evidence = try #require(error.evidence)
            #expect(try ForkEvidence(json: evidence.json).check(deployment: deployment).conclusive)
        }
    }
}
