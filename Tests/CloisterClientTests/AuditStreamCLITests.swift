import CloisterClient
import CloisterTestSupport
import Foundation
import Testing

/// `cloister audit verify --file` on both file forms: its JSON result, its progress line, and its verdicts.
@Suite struct AuditStreamCLITests {
    @Test func binaryFileVerifiesQuietlyWithJSONAndShowsProgressWithout() async throws {
        let f = try await AuditStreamTests.fixture()
        let w = try KnownDeploymentsCLITests.Workspace()
        let path = w.directory + "/log.cbor"
        try f.log.write(streamTo: path)

        let quiet = try await w.cloister(["audit", "verify", "--file", path, "--json", "--progress"] + w.trust)
        #expect(quiet.status == 0, "\(quiet.stdout) \(quiet.stderr)")
        #expect(quiet.stderr == "")
        #expect(quiet.stdout.hasPrefix("{\"passed\":true,\"receipts\":13,\"verified\":13,\"boots\":2,"), "\(quiet.stdout)")
        #expect(quiet.stdout.filter { $0 == "\n" }.count == 1)

        let shown = try await w.cloister(["audit", "verify", "--file", path, "--progress"] + w.trust)
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stderr.contains("verifying: 3 of 13 receipts"), "\(shown.stderr)")
        #expect(shown.stdout.contains("PASSED"), "\(shown.stdout)")

        // Not a terminal and no --progress: nothing on standard error.
        let plain = try await w.cloister(["audit", "verify", "--file", path] + w.trust)
        #expect(plain.status == 0 && plain.stderr == "", "\(plain.stderr)")
    }

    @Test func theJSONFormStillVerifiesAndAHostileBinaryFileIsNamed() async throws {
        let f = try await AuditStreamTests.fixture()
        let w = try KnownDeploymentsCLITests.Workspace()
        let json = w.directory + "/log.json"
        try Data(f.log.json.utf8).write(to: URL(fileURLWithPath: json))
        for option in ["--file", "--from"] {
            let r = try await w.cloister(["audit", "verify", option, json, "--json"] + w.trust)
            #expect(r.status == 0 && r.stdout.hasPrefix("{\"passed\":true,\"receipts\":13,"), "\(r.stdout) \(r.stderr)")
        }

        var batches = f.batches
        batches[2].entries.remove(at: 1)
        let hostile = try AuditStreamTests.write(batches, boots: f.boots)
        let r = try await w.cloister(["audit", "verify", "--from", hostile, "--json"] + w.trust)
        #expect(r.status == 1)
        #expect(r.stdout.contains("\"failure\":{\"code\":\"gap\",\"index\":7,"), "\(r.stdout)")

        let cut = w.directory + "/cut.cbor"
        try Data(try Data(contentsOf: URL(fileURLWithPath: hostile)).dropLast(3)).write(to: URL(fileURLWithPath: cut))
        let c = try await w.cloister(["audit", "verify", "--file", cut] + w.trust)
        #expect(c.status == 1 && c.stdout.contains("truncatedLog"), "\(c.stdout)")

        let neither = try await w.cloister(["audit", "verify"] + w.trust)
        #expect(neither.status != 0)
    }

    @Test func exportWritesTheBinaryFormUnlessAskedForJSON() async throws {
        let a = try await TestEnclave()
        let b = try await TestEnclave()
        let f = try AuditStreamTests.fixture(a, b)
        let host = TestHost(a)
        host.restart(as: b)
        host.publish(f.log.receipts)
        let url = try await host.start().absoluteString
        defer { host.stop() }
        let w = try KnownDeploymentsCLITests.Workspace()

        let binary = w.directory + "/log.audit"
        let export = try await w.cloister(["audit", "export", url, "--out", binary])
        #expect(export.status == 0 && export.stdout.contains("exported 13 receipt(s) in 4 sealed batch(es) and 2 boot document(s)"), "\(export.stdout) \(export.stderr)")
        let reader = try AuditStreamReader(path: binary)
        #expect(reader.header.boots == f.boots)
        var batches: [AuditBatch] = []
        while let r = try reader.next() { batches.append(try #require(r.batch)) }
        #expect(batches == f.batches)
        #expect(!FileManager.default.fileExists(atPath: binary + ".spool") && !FileManager.default.fileExists(atPath: binary + ".partial"))
        let verify = try await w.cloister(["audit", "verify", "--file", binary, "--json"] + w.trust)
        #expect(verify.status == 0 && verify.stdout.hasPrefix("{\"passed\":true,\"receipts\":13,"), "\(verify.stdout)")

        for (name, extra) in [("log.json", [String]()), ("log.txt", ["--format", "json"])] {
            let path = w.directory + "/" + name
            let r = try await w.cloister(["audit", "export", url, "--out", path] + extra)
            #expect(r.status == 0, "\(r.stderr)")
            let log = try AuditLog(json: Array(try Data(contentsOf: URL(fileURLWithPath: path))))
            #expect(log.receipts == f.log.receipts && log.boots == f.boots)
        }
    }
}
