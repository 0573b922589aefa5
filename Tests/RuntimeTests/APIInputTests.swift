import CloisterClient
import CloisterTestSupport
import EnclaveWire
import Foundation
import GRDB
import NitroAttestation
import NIOCore
import Testing

/// Bad input at every endpoint and on the host's queue and store channels: each gets a clear error with its
/// code, nothing is queued or half-written, and the service keeps serving.
@Suite(.serialized) struct APIInputTests {
    struct Case: Sendable, CustomStringConvertible {
        var method: String
        var path: String
        var auth: String?  // "tenant", "auditor", "admin" or a literal header value
        var headers: [String: String] = [:]
        var body: [UInt8]? = nil
        var status: Int
        var code: String
        var description: String { "\(method) \(path) [\(auth ?? "none")] -> \(status) \(code)" }
    }

    static let id = ["Cloister-Request-Id": "good-id"]
    static let cases: [Case] = [
        Case(method: "POST", path: "v1/call/echo", auth: nil, headers: id, body: [1], status: 401, code: "unauthorized"),
        Case(method: "POST", path: "v1/call/echo", auth: "Bearer ct_wrong", headers: id, body: [1], status: 401, code: "unauthorized"),
        Case(method: "POST", path: "v1/call/echo", auth: "Basic dXNlcjpwYXNz", headers: id, body: [1], status: 401, code: "unauthorized"),
        Case(method: "POST", path: "v1/call/echo", auth: "admin", headers: id, body: [1], status: 401, code: "unauthorized"),
        Case(method: "POST", path: "v1/call/echo", auth: "auditor", headers: id, body: [1], status: 401, code: "unauthorized"),
        Case(method: "POST", path: "v1/call/Echo", auth: "tenant", headers: id, body: [1], status: 400, code: "badOperation"),
        Case(method: "POST", path: "v1/call/" + String(repeating: "a", count: 65), auth: "tenant", headers: id, body: [1], status: 400, code: "badOperation"),
        Case(method: "POST", path: "v1/call/echo", auth: "tenant", body: [1], status: 400, code: "missingRequestId"),
        Case(method: "POST", path: "v1/call/echo", auth: "tenant", headers: ["Cloister-Request-Id": "a/b"], body: [1], status: 400, code: "badRequestId"),
        Case(method: "POST", path: "v1/call/echo", auth: "tenant", headers: ["Cloister-Request-Id": String(repeating: "x", count: 65)], body: [1], status: 400, code: "badRequestId"),
        Case(method: "POST", path: "v1/call/echo", auth: "tenant", headers: id, body: [UInt8](repeating: 7, count: 64 * 1024 + 1), status: 413, code: "bodyTooLarge"),
        Case(method: "GET", path: "v1/attestation", auth: nil, status: 400, code: "badNonce"),
        Case(method: "GET", path: "v1/attestation?nonce=zz", auth: nil, status: 400, code: "badNonce"),
        Case(method: "GET", path: "v1/attestation?nonce=abc", auth: nil, status: 400, code: "badNonce"),
        Case(method: "GET", path: "v1/attestation?nonce=" + String(repeating: "ab", count: 513), auth: nil, status: 400, code: "badNonce"),
        Case(method: "GET", path: "v1/receipts", auth: nil, status: 401, code: "unauthorized"),
        Case(method: "GET", path: "v1/receipts?limit=1001", auth: "tenant", status: 400, code: "badQuery"),
        Case(method: "GET", path: "v1/log/receipts", auth: nil, status: 401, code: "unauthorized"),
        Case(method: "GET", path: "v1/log/receipts?from=-1", auth: "auditor", status: 400, code: "badQuery"),
        Case(method: "GET", path: "v1/log/receipts?from=x", auth: "tenant", status: 400, code: "badQuery"),
        Case(method: "GET", path: "v1/log/receipts?limit=0", auth: "admin", status: 400, code: "badQuery"),
        Case(method: "GET", path: "v1/receipts?after=-1", auth: "auditor", status: 400, code: "badQuery"),
        Case(method: "GET", path: "v1/receipts?limit=0", auth: "auditor", status: 400, code: "badQuery"),
        Case(method: "GET", path: "v1/receipts?limit=1001", auth: "admin", status: 400, code: "badQuery"),
        Case(method: "GET", path: "v1/log/consistency", auth: "tenant", status: 400, code: "badQuery"),
        Case(method: "GET", path: "v1/log/consistency?from=1", auth: "auditor", status: 400, code: "badQuery"),
        Case(method: "GET", path: "v1/log/consistency?to=1", auth: "admin", status: 400, code: "badQuery"),
        Case(method: "GET", path: "v1/boots", auth: "tenant", status: 403, code: "forbidden"),
        Case(method: "GET", path: "v1/boots/zz", auth: nil, status: 400, code: "badHash"),
        Case(method: "GET", path: "v1/boots/" + String(repeating: "0", count: 64), auth: nil, status: 404, code: "unknownBoot"),
        Case(method: "GET", path: "v1/requests/nope", auth: "tenant", status: 404, code: "unknownRequest"),
        Case(method: "GET", path: "v1/requests/nope", auth: nil, status: 401, code: "unauthorized"),
        Case(method: "POST", path: "v1/admin/tenants", auth: "tenant", body: Array("{\"name\":\"x\"}".utf8), status: 401, code: "unauthorized"),
        Case(method: "POST", path: "v1/admin/tenants", auth: "admin", body: Array("{".utf8), status: 400, code: "malformedJSON"),
        Case(method: "POST", path: "v1/admin/tenants", auth: "admin", body: Array("[1]".utf8), status: 400, code: "malformedJSON"),
        Case(method: "POST", path: "v1/admin/tenants", auth: "admin", body: Array("{\"name\":\"x\",\"extra\":1}".utf8), status: 400, code: "unknownField"),
        Case(method: "POST", path: "v1/admin/tenants", auth: "admin", body: Array("{\"name\":\"Not Valid\"}".utf8), status: 400, code: "badTenant"),
        Case(method: "POST", path: "v1/admin/tenants", auth: "admin", body: Array("{\"name\":\"a\",\"name\":\"b\"}".utf8), status: 400, code: "duplicateField"),
        Case(method: "POST", path: "v1/admin/tokens", auth: "admin", body: Array("{\"role\":\"auditor\", \"r\\u006fle\" :\"tenant\"}".utf8), status: 400, code: "duplicateField"),
        Case(method: "POST", path: "v1/admin/tenants", auth: "admin", body: Array("{\"name\":\"acme\"}".utf8), status: 409, code: "tenantExists"),
        Case(method: "POST", path: "v1/admin/tenants", auth: "admin", body: [UInt8](repeating: 0x20, count: 64 * 1024 + 1), status: 413, code: "bodyTooLarge"),
        Case(method: "POST", path: "v1/admin/tokens", auth: "admin", body: Array("{\"tenant\":\"ghost\"}".utf8), status: 404, code: "unknownTenant"),
        Case(method: "POST", path: "v1/admin/tokens", auth: "admin", body: Array("{\"role\":\"root\"}".utf8), status: 400, code: "badRole"),
        Case(method: "POST", path: "v1/admin/tokens", auth: "admin", body: Array("{\"role\":\"auditor\",\"tenant\":\"acme\"}".utf8), status: 400, code: "badRole"),
        Case(method: "GET", path: "v1/nothing", auth: nil, status: 404, code: "notFound"),
        Case(method: "DELETE", path: "v1/call/echo", auth: "tenant", status: 404, code: "notFound"),
    ]

    @Test func everyBadRequestGetsItsCodeAndNothingIsQueued() async throws {
        let f = try await APIFixture.start()
        for c in Self.cases {
            var headers = c.headers
            switch c.auth {
            case "tenant"?: headers["Authorization"] = "Bearer " + f.tenantToken
            case "auditor"?: headers["Authorization"] = "Bearer " + f.auditorToken
            case "admin"?: headers["Authorization"] = "Bearer " + HostProcess.adminToken
            case let literal?: headers["Authorization"] = literal
            case nil: break
            }
            let (status, body, _) = try await f.http(c.method, c.path, headers: headers, body: c.body)
            #expect(status == c.status, "\(c)")
            #expect(APIFixture.errorCode(body) == c.code, "\(c): \(String(decoding: body.prefix(200), as: UTF8.self))")
        }
        let database = try DatabaseQueue(path: f.host.directory.appendingPathComponent("data/cloister.sqlite").path)
        #expect(try await database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs")! } == 0)

        // The service still serves, and a request id reused with another body is refused without a second job.
        let client = f.client()
        let r = try await client.call("echo", body: [1, 2, 3], requestID: "reused")
        #expect(r.result == [1, 2, 3])
        let (status, body, _) = try await f.http(
            "POST", "v1/call/echo", headers: ["Authorization": "Bearer " + f.tenantToken, "Cloister-Request-Id": "reused"], body: [9])
        #expect(status == 409)
        #expect(APIFixture.errorCode(body) == "requestIdReused")
        #expect(try await database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs")! } == 1)
        try await database.close()
    }

    @Test func garbageOnTheAPIPortClosesOnlyThatConnection() async throws {
        let f = try await APIFixture.start()
        for garbage in [Array("GARBAGE\r\n\r\n".utf8), [UInt8](repeating: 0, count: 4096), Array("GET /v1/attestation?nonce=00 HTTP/1.1\r\nX: ".utf8) + [UInt8](repeating: 0x41, count: 200_000)] {
            let answer = try await RawSocket.exchange(port: f.host.ports.api, send: garbage, timeoutSeconds: 30)
            let text = String(decoding: answer.prefix(64), as: UTF8.self)
            #expect(answer.isEmpty || text.hasPrefix("HTTP/1.1 4"), "\(text)")
        }
        _ = try await f.client().call("echo", body: [1])
    }

    static func frame(_ m: WireMessage) -> [UInt8] {
        var b = ByteBuffer()
        WireFrame.write(m, to: &b)
        return Array(b.readableBytesView)
    }

    /// The close frame the host answered with, if any.
    static func closeCode(_ bytes: [UInt8]) -> String? {
        var b = ByteBuffer(bytes: bytes)
        while let m = try? WireFrame.next(from: &b, maxFrameSize: 1 << 20) { if case .close(let code, _) = m { return code } }
        return nil
    }

    /// Behind a proven hello (a boot of the host's build under the emulated root, which this machine's owner holds), hostile frames
    /// on the queue, store and credentials channels close only their own connection.
    @Test func hostileQueueStoreAndSealingFramesCloseOnlyTheirConnection() async throws {
        let f = try await KeyServiceTests.start()
        let credential = try await f.bridgeCredential()
        let queue: [UInt8] = []
        let store: [UInt8] = []
        let cases: [(ChannelKind, [UInt8], String)] = [
            (.queue, queue + Self.frame(.data([0xFF])), "malformedCBOR"),
            (.queue, queue + Self.frame(.data([0x9B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])), "malformedCBOR"),
            (.queue, queue + Self.frame(.data(QueueMessage.ack(batch: 1).encoded)), "protocol"),
            (.queue, queue + Self.frame(.heartbeat(sequence: 1, time: 1)), "protocol"),
            (.queue, queue + Self.frame(.data(CBOREncodedArray.results(boot: 31))), "malformedMessage"),
            (.queue, queue + Self.frame(.data(QueueMessage.pull(max: 1, waitMs: 60_000).encoded)) + Self.frame(.data(QueueMessage.pull(max: 1, waitMs: 1).encoded)), "protocol"),
            (.store, store + Self.frame(.data(StoreMessage.value(id: 1, version: 1, value: []).encoded)), "protocol"),
            (.store, store + Self.frame(.data(CBOREncodedArray.storeGet(key: "has space"))), "malformedMessage"),
            (.store, store + Self.frame(.data([0x83, 0x00])), "malformedCBOR"),
            (.credentials, Self.frame(.data([0xFF])), "malformedMessage"),
        ]
        for (kind, bytes, code) in cases {
            let answer = try await RawSocket.challenged(port: f.host.ports.bridge, halfClose: false, timeoutSeconds: 30) { challenge in
                Self.frame(try credential.prover.hello(kind, challenge: challenge)) + bytes
            }
            #expect(Self.closeCode(answer) == code, "expected \(code)")
        }
        // The enclave's own queue, store and credentials connections were not disturbed.
        let r = try await f.client().call("sha256", body: [])
        #expect(String(decoding: r.result, as: UTF8.self) == Hex.encode(SHA.sha256([])))
        let key = try await KeyServiceTests.key(f.client(), "create", ["name": "after", "type": "ed25519"])
        #expect(key["latestVersion"] as? Int == 1)
        let (status, _) = try await f.host.health()
        #expect(status == 200)
    }
}

/// Hand-made messages the encoders would never produce.
enum CBOREncodedArray {
    static func results(boot count: Int) -> [UInt8] {
        // [2, batch, boot (wrong length), [[job, seq, status, response, receipt]]]
        var out: [UInt8] = [0x84, 0x02, 0x01, 0x58, UInt8(count)] + [UInt8](repeating: 0, count: count)
        out += [0x81, 0x85, 0x01, 0x01, 0x62, 0x6F, 0x6B, 0x40, 0x40]
        return out
    }

    static func storeGet(key: String) -> [UInt8] {
        [0x83, 0x00, 0x01, 0x60 + UInt8(key.utf8.count)] + Array(key.utf8)
    }
}
