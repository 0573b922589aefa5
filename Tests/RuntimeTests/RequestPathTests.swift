import CloisterClient
import EnclaveWire
import Foundation
import GRDB
import NitroAttestation
import Testing

/// The attested request path through real processes: cloister-host (API, SQLite queue) and its cloister-enclave
/// child (pull worker, identity keys on the software secure module), checked by the real client library.
@Suite(.serialized) struct RequestPathTests {
    @Test func callsVerifyEndToEndAndTheLogAudits() async throws {
        let f = try await APIFixture.start()
        let client = f.client()
        let identity = try await client.connect()
        #expect(identity.claims.hpkePublicKey.count == 32)
        let manifest = try Data(contentsOf: f.host.directory.appendingPathComponent("manifest.json"))
        #expect(identity.claims.manifestHash == SHA.sha256(Array(manifest)))

        let echo = try await client.call("echo", body: Array("hello".utf8))
        #expect(echo.result == Array("hello".utf8))
        let digest = try await client.call("sha256", body: Array("abc".utf8))
        #expect(String(decoding: digest.result, as: UTF8.self) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        // The counter lives in the host's store (compare-and-swap over the store channel).
        let one = try await client.call("counter", body: [])
        let two = try await client.call("counter", body: [])
        #expect(String(decoding: one.result, as: UTF8.self) == "1")
        #expect(String(decoding: two.result, as: UTF8.self) == "2")
        await #expect(throws: ClientError(.operationFailed, "")) { try await client.call("fail", body: []) }
        // A retry with the same request id is answered from the same job.
        let again = try await client.call("echo", body: Array("hello".utf8), requestID: echo.requestID)
        #expect(again.receipt.receipt.sequence == echo.receipt.receipt.sequence)

        let log = try await f.client(token: f.auditorToken).exportLog()
        #expect(log.receipts.count == 5)
        let report = AuditVerifier(trust: f.trust, roots: f.roots).verify(log)
        #expect(report.passed, "\(String(describing: report.failure))")
        #expect(report.verified == 5)
        #expect(report.boots.count == 1)
    }

    @Test func manyFullSizeBodiesAtOnceAllArrive() async throws {
        // 24 bodies of 64 KiB (the default limit) are 1.5 MiB: more than one bridge frame, so the host must spread
        // them over several pulls rather than send one message the enclave refuses.
        let f = try await APIFixture.start()
        let client = f.client()
        try await client.connect()
        let body = (0..<(64 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try await withThrowingTaskGroup(of: [UInt8].self) { group in
            for _ in 0..<24 { group.addTask { try await client.call("sha256", body: body).result } }
            for try await digest in group { #expect(String(decoding: digest, as: UTF8.self) == Hex.encode(SHA.sha256(body))) }
        }
    }

    @Test func aHostileHostIsCaught() async throws {
        let f = try await APIFixture.start()
        let proxy = HostileProxy(upstream: f.base)
        let url = try await proxy.start()
        defer { proxy.stop() }
        let client = f.client(base: url)
        try await client.connect()
        _ = try await client.call("echo", body: Array("through the proxy".utf8))

        // Any edited byte of a signed response is refused, and the refusal names a check.
        let verification: Set<ClientError.Code> = [.malformedResponse, .signatureInvalid, .proofInvalid, .sealMismatch, .resultHashMismatch, .requestHashMismatch, .requestIDMismatch]
        for offset in [0, 5, 40, 120, 300] {
            proxy.set(.flipCallByte(fromEnd: offset))
            do {
                _ = try await client.call("echo", body: Array("tampered \(offset)".utf8))
                Issue.record("an edited byte \(offset) from the end was accepted")
            } catch {
                #expect(verification.contains(error.code), "offset \(offset): \(error)")
            }
        }
        proxy.set(.flipCallByte(fromEnd: 0))
        await #expect(throws: ClientError(.resultHashMismatch, "")) { try await client.call("echo", body: Array("last byte".utf8)) }

        // An old response replayed for a new request.
        proxy.set(.replayCalls)
        _ = try await client.call("echo", body: Array("first".utf8))
        await #expect(throws: ClientError(.requestIDMismatch, "")) { try await client.call("echo", body: Array("second".utf8)) }

        // An old attestation document served to a new nonce.
        proxy.set(.staleAttestation)
        try await f.client(base: url).connect()
        do {
            try await f.client(base: url).connect()
            Issue.record("a stale document was accepted")
        } catch {
            #expect(error.code == .attestationInvalid)
            #expect(error.attestation == .nonceMismatch)
        }

        // The receipt log, edited on its way to the auditor.
        proxy.set(.none)
        for i in 0..<4 { _ = try await client.call("echo", body: Array("log \(i)".utf8)) }
        let auditor = f.client(base: url, token: f.auditorToken)
        let verifier = AuditVerifier(trust: f.trust, roots: f.roots)
        #expect(verifier.verify(try await auditor.exportLog()).passed)
        for (tamper, code) in [(HostileProxy.Tamper.dropReceipt(2), ClientError.Code.gap), (.swapReceipts(1, 3), .reorder), (.editReceipt(2), .proofInvalid)] {
            proxy.set(tamper)
            let report = verifier.verify(try await auditor.exportLog())
            #expect(report.failure?.code == code, "\(tamper): \(String(describing: report.failure))")
        }
    }

    @Test func killingTheEnclaveLosesNoAcknowledgedJob() async throws {
        let f = try await APIFixture.start()
        let client = f.client(maxConnections: 1000)
        try await client.connect()
        let firstPID = try #require(try await f.host.enclavePID())
        // One answer from the first boot, so that its receipts are in the log whatever the kill meets.
        _ = try await client.call("echo", body: Array("before".utf8))
        let count = 1000
        // Each job sleeps 2 s inside the enclave, so the kill lands with them in flight even when the host is slow
        // to report that it committed them all.
        let results = try await withThrowingTaskGroup(of: (String, VerifiedResponse).self) { group in
            for i in 0..<count {
                group.addTask {
                    let id = "job-\(i)"
                    return (id, try await client.call("sleep", body: Array("2000".utf8), requestID: id))
                }
            }
            group.addTask {
                // Once the host has committed every job, kill the enclave.
                let deadline = Date().addingTimeInterval(120)
                while try await Self.metric(f, "cloister_queue_enqueued_total") < Double(count) {
                    guard Date() < deadline else { throw HarnessError("the host did not commit \(count) jobs within 120 s") }
                    try await Task.sleep(for: .milliseconds(20))
                }
                kill(firstPID, SIGKILL)
                return ("kill", try await client.call("echo", body: Array("after".utf8)))
            }
            var out: [(String, VerifiedResponse)] = []
            for try await r in group { out.append(r) }
            return out
        }
        let jobs = results.filter { $0.0 != "kill" }
        #expect(jobs.count == count)
        #expect(Set(jobs.map(\.1.requestID)).count == count)
        for (id, r) in jobs {
            #expect(r.requestID == id)
            #expect(r.result == Array("2000".utf8))
        }
        #expect(try await f.host.enclavePID() != firstPID)
        // The client met a second identity and verified it with a fresh document.
        // The kill landed with jobs in flight: some were finished by the second boot, not only the echo after it.
        let secondBoot = try #require(results.first { $0.0 == "kill" }).1.receipt.receipt.boot
        #expect(jobs.contains { $0.1.receipt.receipt.boot == secondBoot }, "no job was left for the second boot: the kill met none in flight")
        #expect(client.identities.count >= 2)
        let database = try DatabaseQueue(path: f.host.directory.appendingPathComponent("data/cloister.sqlite").path)
        let (done, total) = try await database.read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs WHERE completed IS NOT NULL")!, try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs")!)
        }
        #expect(done == total)
        #expect(total == count + 2)
        let report = AuditVerifier(trust: f.trust, roots: f.roots).verify(try await f.client(token: f.auditorToken).exportLog())
        #expect(report.passed, "\(String(describing: report.failure))")
        #expect(report.boots.count == 2)
        #expect(report.verified >= count + 2)
    }

    @Test func killingTheHostKeepsTheQueue() async throws {
        // waitMs 100: calls are acknowledged (202, committed) long before their jobs finish.
        let f = try await APIFixture.start { m in
            var api = m["api"] as! [String: Any]
            api["waitMs"] = 100
            m["api"] = api
        }
        let headers = ["Authorization": "Bearer " + f.tenantToken]
        // Jobs of 5 s each, submitted at once: all acknowledged (202), none finished when the host dies.
        try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<50 {
                group.addTask {
                    try await f.http("POST", "v1/call/sleep", headers: headers.merging(["Cloister-Request-Id": "q\(i)"]) { a, _ in a }, body: Array("5000".utf8)).0
                }
            }
            for try await status in group { #expect(status == 202) }
        }
        let orphan = try await f.host.enclavePID()
        _ = try await f.host.stop(SIGKILL)
        // Its enclave notices within 200 ms that its host is gone; the new host must not meet it.
        try await HostProcess.waitGone(orphan)
        let database = try DatabaseQueue(path: f.host.directory.appendingPathComponent("data/cloister.sqlite").path)
        let waiting = try await database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs WHERE completed IS NULL")! }
        #expect(waiting == 50)
        try await database.close()

        let g = try await APIFixture.start(restart: f)
        let client = g.client()
        for i in 0..<50 {
            let r = try await client.call("sleep", body: Array("5000".utf8), requestID: "q\(i)")
            #expect(r.result == Array("5000".utf8))
        }
        let report = AuditVerifier(trust: g.trust, roots: g.roots).verify(try await g.client(token: g.auditorToken).exportLog())
        #expect(report.passed, "\(String(describing: report.failure))")
    }

    static func metric(_ f: APIFixture, _ name: String) async throws -> Double {
        try await APIFixture.metric(f.host, name)
    }
}
