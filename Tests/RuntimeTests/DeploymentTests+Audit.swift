import CloisterClient
import CloisterTestSupport
import EnclaveWire
import Foundation
import GRDB
import NitroAttestation
import SecureModule
import Testing
import TransparencyLog

/// The audit against the host's own database, through real host and enclave processes: the receipts a tenant may
/// read, and what `cloister audit export` then `cloister audit verify --file` make of receipts the host dropped, cut
/// or rewrote. In `DeploymentTests`' serialized suite, for the reason `DeploymentTests+Log` gives.
extension DeploymentTests {
    /// The receipts a token lists through `path` (a listing route), each with its signed receipt.
    static func listed(_ f: APIFixture, token: String, _ path: String) async throws -> [(index: UInt64?, signed: SignedReceipt, receipt: Receipt)] {
        let (status, body, _) = try await f.http("GET", path, headers: ["Authorization": "Bearer " + token])
        #expect(status == 200, "\(path): \(String(decoding: body, as: UTF8.self))")
        let items = try #require((try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])?["receipts"] as? [[String: Any]])
        return try items.map { item in
            let text = try #require(item["entry"] as? String)
            let signed = try SignedReceipt(encoded: Array(try #require(Data(base64Encoded: text))))
            let index = (item["index"] as? Int).map(UInt64.init)
            #expect(index == signed.index, "the listed index is the receipt's own")
            return (index, signed, try Receipt(encoded: signed.receipt))
        }
    }

    /// Who: the host, at each listing: a tenant's token lists the receipts that name that tenant, each as the
    /// enclave signed it (its index, head and inclusion proof verify), and never another tenant's.
    @Test func aTenantReadsItsOwnReceiptsWithTheirProofsAndNoOneElses() async throws {
        let f = try await K.start()
        let acme = f.client()
        _ = try await K.key(acme, "create", ["name": "a1", "type": "ed25519"])
        let admin = ["Authorization": "Bearer " + HostProcess.adminToken]
        let (created, _, _) = try await f.http("POST", "v1/admin/tenants", headers: admin, body: Array(#"{"name":"globex"}"#.utf8))
        let (issued, tokenBody, _) = try await f.http("POST", "v1/admin/tokens", headers: admin, body: Array(#"{"tenant":"globex"}"#.utf8))
        #expect(created == 201 && issued == 201)
        let globexToken = try #require(APIFixture.token(tokenBody))
        let globexKey = try CredentialKey.generate(.ed25519)
        let globex = f.client(token: globexToken, tenant: "globex", credential: globexKey)
        _ = try await K.register(globex, globexKey)
        _ = try await K.key(globex, "create", ["name": "g1", "type": "ed25519"])
        _ = try await K.key(acme, "sign", ["name": "a1", "input": K.b64("pay 10 to bob")])
        let deployment = try #require(acme.deployment)

        for path in ["v1/receipts?limit=1000", "v1/log/receipts?from=0&limit=1000"] {
            let all = try await Self.listed(f, token: f.auditorToken, path)
            let mine = try await Self.listed(f, token: f.tenantToken, path)
            let theirs = try await Self.listed(f, token: globexToken, path)
            #expect(mine.count == 3 && theirs.count == 2, "\(path): \(mine.count) and \(theirs.count)")
            #expect(mine.allSatisfy { $0.receipt.tenant == "acme" } && theirs.allSatisfy { $0.receipt.tenant == "globex" }, "\(path)")
            #expect(Set(all.map(\.signed)) == Set(mine.map(\.signed) + theirs.map(\.signed)), "\(path): the auditor lists every receipt")
            for r in mine + theirs { _ = try LogHead.verifyInclusion(r.signed, deployment: deployment) }
        }
        // Pages of one: every receipt once, in index order.
        var paged: [UInt64] = []
        var from: UInt64 = 0
        while true {
            let (_, body, _) = try await f.http("GET", "v1/log/receipts?from=\(from)&limit=1", headers: ["Authorization": "Bearer " + f.tenantToken])
            let page = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
            let items = try #require(page["receipts"] as? [[String: Any]])
            if items.isEmpty { break }
            paged += items.compactMap { ($0["index"] as? Int).map(UInt64.init) }
            from = UInt64(try #require(page["next"] as? Int))
        }
        #expect(paged == (try await Self.listed(f, token: f.tenantToken, "v1/log/receipts?limit=1000")).compactMap(\.index))
        let (unauthorized, _, _) = try await f.http("GET", "v1/log/receipts")
        #expect(unauthorized == 401)
    }

    /// `cloister audit export` to a file, then `cloister audit verify --file --json` on it, as an auditor runs them
    /// with the pins and root only: the export's output and the verdict.
    static func audit(_ f: APIFixture, _ name: String) async throws -> (export: BuiltTool.Output, verdict: [String: Any], file: String) {
        let file = f.host.directory.appendingPathComponent("\(name).cbor").path
        let env = ["CLOISTER_CONFIG_DIR": f.host.directory.appendingPathComponent("auditor").path]
        let export = try await BuiltTool.run("cloister", ["audit", "export", f.base.absoluteString, "--out", file, "--token", f.auditorToken], environment: env)
        #expect(export.status == 0, "\(name): \(export.stderr)")
        let trust = ["--manifest", try f.pinsFile("audit-pins.json"), "--root", f.host.directory.appendingPathComponent("emulator/root.pem").path]
        let verify = try await BuiltTool.run("cloister", ["audit", "verify", "--file", file, "--json"] + trust, environment: env)
        let verdict = try #require(try JSONSerialization.jsonObject(with: Data(verify.stdout.utf8)) as? [String: Any], "\(verify.stdout) \(verify.stderr)")
        #expect((verify.status == 0) == (verdict["passed"] as? Bool == true))
        return (export, verdict, file)
    }

    /// The failure's code and index in a verdict (nil: it passed).
    static func failure(_ verdict: [String: Any]) -> (code: String, index: Int)? {
        guard let f = verdict["failure"] as? [String: Any] else { return nil }
        return (f["code"] as? String ?? "", f["index"] as? Int ?? -1)
    }

    /// Who: `cloister audit verify` on the export, offline, with the pins and the root. When: at the first log index
    /// the export cannot account for (a receipt dropped, a boot's receipts dropped), at the final head (a cut tail),
    /// at the seal (a rewritten receipt). The exporter marks what the host did not have, and the host refuses a
    /// consistency proof it cannot make meanwhile.
    @Test func receiptsTheHostDropsCutsOrRewritesFailTheAudit() async throws {
        let f = try await K.start()
        let c = f.client()
        for i in 0..<3 { _ = try await K.key(c, "create", ["name": "k\(i)", "type": "ed25519"]) }
        let pid = try #require(try await f.host.enclavePID())
        kill(pid, SIGKILL)
        try await f.host.waitHealthy(within: 30, notPID: pid)
        for i in 3..<5 { _ = try await K.key(c, "create", ["name": "k\(i)", "type": "ed25519"]) }
        let size = Int(try await c.fetchLogHead().checkpoint.size)
        #expect(size >= 6, "the registration and five creations (and a refusal of a request signed for the first boot)")

        let whole = try await Self.audit(f, "whole")
        #expect(Self.failure(whole.verdict) == nil, "\(whole.verdict)")
        #expect((whole.verdict["log"] as? [String: Any])?["size"] as? Int == size)

        let host = try K.HostView(f)
        let columns = "n, boot, seq, entry, received, log_index, leaf, tenant"
        /// Runs `body` with the receipts matching `condition` deleted, then puts them back.
        func without(_ condition: String, _ arguments: StatementArguments, _ body: () async throws -> Void) async throws {
            let rows = try await host.database.read { db in
                try Row.fetchAll(db, sql: "SELECT \(columns) FROM receipts WHERE \(condition)", arguments: arguments).map { Array($0.databaseValues) }
            }
            #expect(!rows.isEmpty)
            try await host.database.write { db in try db.execute(sql: "DELETE FROM receipts WHERE \(condition)", arguments: arguments) }
            try await body()
            try await host.database.write { db in
                for r in rows { try db.execute(sql: "INSERT INTO receipts (\(columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", arguments: StatementArguments(r)) }
            }
        }

        // A receipt from the middle of the log: the host cannot prove consistency past it, and the export marks it.
        try await without("log_index = ?", [3]) {
            let (status, body, _) = try await f.http("GET", "v1/log/consistency?from=1&to=\(size)", headers: ["Authorization": "Bearer " + f.tenantToken])
            #expect(status == 503 && APIFixture.errorCode(body) == "logIncomplete")
            let audit = try await Self.audit(f, "middle")
            #expect(audit.export.stderr.contains("no receipt at 1 log index(es) below its head (3)"), "\(audit.export.stderr)")
            let reader = try AuditStreamReader(path: audit.file)
            var records: [AuditRecord] = []
            while let r = try reader.next() { records.append(r) }
            #expect(records.contains(.gap(from: 3, count: 1)))
            #expect(Self.failure(audit.verdict)?.code == "receiptMissing" && Self.failure(audit.verdict)?.index == 3, "\(audit.verdict)")
        }
        // Every receipt of the first boot.
        let firstBoot = try await host.database.read { db in try Data.fetchOne(db, sql: "SELECT boot FROM receipts WHERE log_index = 0") }
        try #require(firstBoot != nil)
        try await without("boot = ?", [firstBoot!]) {
            let audit = try await Self.audit(f, "boot")
            #expect(Self.failure(audit.verdict)?.code == "receiptMissing" && Self.failure(audit.verdict)?.index == 0, "\(audit.verdict)")
        }
        // The tail: below the head the enclave stored, which the export carries as its final head.
        try await without("log_index >= ?", [size - 2]) {
            let audit = try await Self.audit(f, "tail")
            #expect(Self.failure(audit.verdict)?.code == "receiptMissing" && Self.failure(audit.verdict)?.index == size - 2, "\(audit.verdict)")
        }
        // A receipt rewritten in place (its result hash), its log place and proofs kept.
        let stored = try await host.database.read { db in
            try Row.fetchOne(db, sql: "SELECT n, entry FROM receipts WHERE log_index = 2").map { ($0[0] as Int64, Array($0[1] as Data)) }
        }
        let (n, entry) = try #require(stored)
        var signed = try SignedReceipt(encoded: entry)
        var receipt = try Receipt(encoded: signed.receipt)
        receipt.resultHash[0] ^= 0x01
        signed.receipt = receipt.encoded
        let edited = Data(signed.encoded)
        try await host.database.write { db in try db.execute(sql: "UPDATE receipts SET entry = ? WHERE n = ?", arguments: [edited, n]) }
        let rewritten = try await Self.audit(f, "rewritten")
        #expect(Self.failure(rewritten.verdict)?.code == "proofInvalid", "\(rewritten.verdict)")
        try await host.database.write { db in try db.execute(sql: "UPDATE receipts SET entry = ? WHERE n = ?", arguments: [Data(entry), n]) }

        let again = try await Self.audit(f, "again")
        #expect(Self.failure(again.verdict) == nil, "everything put back: \(again.verdict)")
    }
}
