import CloisterClient
import CloisterTestSupport
import EnclaveRuntime
import EnclaveWire
import Foundation
import GRDB
import NIOCore
import NitroAttestation
import Testing

/// A process on the host's machine that reaches the bridge port, as the real host and enclave run: without the
/// boot's attested key it learns nothing and changes nothing, on any channel, whatever it sends.
@Suite struct BridgeProofTests {
    typealias K = KeyServiceTests

    static func frame(_ m: WireMessage) -> [UInt8] { TestFrames.frame(m) }
    static func frames(_ bytes: [UInt8]) -> [WireMessage] { TestFrames.frames(bytes) }

    /// Everything the host keeps that a bridge connection could change: blobs, jobs, results, boots.
    static func snapshot(_ f: APIFixture) throws -> [String] {
        let view = try K.HostView(f)
        return try view.database.read { db in
            try String.fetchAll(db, sql: "SELECT key || ':' || version || ':' || hex(value) FROM blobs ORDER BY key")
                + String.fetchAll(db, sql: "SELECT id || ':' || ifnull(completed, '-') || ':' || ifnull(hex(response), '-') FROM jobs ORDER BY id")
                + String.fetchAll(db, sql: "SELECT hex(hash) FROM boots ORDER BY hash")
        }
    }

    @Test func aLocalProcessWithoutTheBootsKeyLearnsNothingAndChangesNothing() async throws {
        let f = try await K.start()
        let client = f.client()
        _ = try await K.key(client, "create", ["name": "kept", "type": "ed25519"])
        let identity = try await client.connect()
        let before = try Self.snapshot(f)
        let (_, healthBefore) = try await f.host.health()
        let heartbeatsBefore = f.host.log(containing: "enclave said hello").count

        // A job is waiting while the intruder asks for work: it must go to the enclave, never to the intruder.
        let pending = Task { try await K.key(client, "create", ["name": "during", "type": "ed25519"])["latestVersion"] as? Int }

        let planted = "planted-\(UUID().uuidString)"
        let key = "tenant/acme/keys/kept"
        let attempts: [(ChannelKind, [UInt8]?, [UInt8])] = [
            (.queue, nil, Self.frame(.data(QueueMessage.pull(max: 64, waitMs: 2000).encoded))),
            (.queue, nil, Self.frame(.data(QueueMessage.results(batch: 1, boot: identity.boot, items: [
                QueueResult(jobID: 1, sequence: 1, status: "ok", response: Array(planted.utf8), receipt: [1])
            ]).encoded))),
            (.store, nil, Self.frame(.data(StoreMessage.get(id: 1, key: "master/deployment").encoded))),
            (.store, nil, Self.frame(.data(StoreMessage.list(id: 2, after: "").encoded))),
            (.store, nil, Self.frame(.data(StoreMessage.put(id: 3, key: key, expectedVersion: 1, value: Array(planted.utf8)).encoded))),
            (.store, nil, Self.frame(.data(StoreMessage.put(id: 4, key: planted, expectedVersion: 0, value: [1]).encoded))),
            (.credentials, nil, Self.frame(.data(CredentialsMessage.request(id: 1).encoded))),
            (.log, nil, Self.frame(.log(LogRecord(time: 1, level: .critical, message: planted)))),
            (.control, identity.documentBytes, Self.frame(.status(EnclaveStatus(idleTunnels: 0, activeTunnels: 0, uptimeMilliseconds: 1)))),
            (.ingress, nil, []),
            (.egress, nil, Self.frame(.connect(host: "127.0.0.1", port: UInt16(f.host.ports.api)))),
        ]
        for (kind, attestation, payload) in attempts {
            // No proof at all.
            let bare = try await RawSocket.exchange(
                port: f.host.ports.bridge, send: Self.frame(.hello(version: 2, channel: kind, attestation: attestation, proof: nil)) + payload,
                timeoutSeconds: 30)
            // The boot's own document (anyone may have seen it), with a key of the intruder's own.
            let replayed = try await RawSocket.challenged(port: f.host.ports.bridge, timeoutSeconds: 30) { challenge in
                Self.frame(try TestBridgeProof.replaying(identity.documentBytes).hello(kind, challenge: challenge, attestation: attestation)) + payload
            }
            // All it hears is its challenge and why it is closed (`challenged` keeps what follows the challenge).
            let bareFrames = Self.frames(bare)
            #expect(bareFrames.count == 2, "\(kind.rawValue): \(bareFrames.map(\.name))")
            if case .challenge? = bareFrames.first {} else { Issue.record("\(kind.rawValue): no challenge first") }
            #expect(bareFrames.last == .close(code: "channelUnproven", reason: "the \(kind.rawValue) connection does not prove an attested enclave boot"))
            let replayedFrames = Self.frames(replayed)
            #expect(replayedFrames.count == 1, "\(kind.rawValue): \(replayedFrames.map(\.name))")
            #expect(replayedFrames.first == .close(code: "channelProofInvalid", reason: "the \(kind.rawValue) connection does not prove an attested enclave boot"))
        }

        // The enclave answered the waiting job, and still serves.
        #expect(try await pending.value == 1)
        let signed = try await K.key(client, "sign", ["name": "kept", "input": Data("after".utf8).base64EncodedString()])
        #expect(signed["signature"] != nil)
        let (status, healthAfter) = try await f.host.health()
        #expect(status == 200)
        let restarts = { (h: [String: Any]) in (h["enclave"] as? [String: Any])?["restarts"] as? Int }
        #expect(restarts(healthAfter) != nil)
        #expect(restarts(healthAfter) == restarts(healthBefore))
        #expect(f.host.log(containing: "enclave said hello").count == heartbeatsBefore)
        #expect(f.host.log(containing: planted).isEmpty)
        let hostLog = (try? String(contentsOf: f.host.logURL, encoding: .utf8)) ?? ""
        #expect(hostLog.components(separatedBy: "does not prove an attested enclave boot").count - 1 >= 2 * attempts.count)
        // Nothing it sent is kept: what changed is the two jobs the client ran, and what they wrote.
        let after = try Self.snapshot(f)
        #expect(!after.joined().contains(Array(planted.utf8).map { String(format: "%02X", $0) }.joined()))
        #expect(Set(before).subtracting(after).allSatisfy { $0.hasPrefix(key) == false })
        #expect(try K.HostView(f).blob(planted) == nil)
    }

    /// Even a connection that proves a boot (here one the machine's owner makes under the emulated root) has its
    /// results checked before any is stored: a response the enclave really signed, posted again for another job by a
    /// connection of another key, and a response that is no signed answer at all, are refused with `resultUnsealed`
    /// and never acknowledged.
    /// A neighbour: another enclave on this instance, attested under the same root but of another build, refused on
    /// every channel before it reaches a service, since the host pins the builds it launches (`--bridge-pins`).
    @Test func aNeighbourEnclaveOfAnotherBuildIsRefusedOnEveryChannel() async throws {
        let f = try await K.start()
        let neighbour = try await TestBridgeProof.credential(emulatorDirectory: f.host.directory.appendingPathComponent("emulator").path)
        for kind in ChannelKind.allCases {
            let answer = try await RawSocket.challenged(port: f.host.ports.bridge, timeoutSeconds: 30) { challenge in
                Self.frame(try neighbour.prover.hello(kind, challenge: challenge))
            }
            let got = Self.frames(answer)
            guard case .close(let code, _)? = got.first, got.count == 1 else {
                Issue.record("\(kind): not refused: \(got.map(\.name))")
                continue
            }
            #expect(code == "channelAttestationInvalid", "\(kind)")
        }
        // (A process of the host's own build passes this check: `resultsNotSealedByTheProvingKeyAreNeverStored`.)
        // The deployment is unharmed.
        _ = try await K.key(f.client(), "create", ["name": "after-neighbours", "type": "ed25519"])
    }

    @Test func resultsNotSealedByTheProvingKeyAreNeverStored() async throws {
        let f = try await K.start()
        let client = f.client()
        _ = try await K.key(client, "create", ["name": "first", "type": "ed25519"])
        let identity = try await client.connect()
        let (jobID, sequence, status, response) = try await K.HostView(f).database.read { db -> (Int64, Int64, String, [UInt8]) in
            guard let row = try Row.fetchOne(db, sql: "SELECT id, seq, status, response FROM jobs WHERE completed IS NOT NULL ORDER BY id LIMIT 1") else {
                throw HarnessError("no completed job")
            }
            return (row[0], row[1], row[2], [UInt8](row[3] as Data))
        }
        let receipt = try SignedResponse(encoded: response).signed.encoded
        // A process of the host's own build (the host pins the build it launches): its proof is good, its results
        // are not sealed by the boot that proved the queue connection.
        let credential = try await f.bridgeCredential()
        let before = try Self.snapshot(f)
        let posts: [QueueResult] = [
            QueueResult(jobID: UInt64(jobID) + 1000, sequence: UInt64(sequence), status: status, response: response, receipt: receipt),
            QueueResult(jobID: UInt64(jobID) + 1001, sequence: 1, status: "ok", response: Array("not signed".utf8), receipt: receipt),
        ]
        for post in posts {
            let answer = try await RawSocket.challenged(port: f.host.ports.bridge, timeoutSeconds: 30) { challenge in
                Self.frame(try credential.prover.hello(.queue, challenge: challenge))
                    + Self.frame(.data(QueueMessage.results(batch: 1, boot: identity.boot, items: [post]).encoded))
            }
            let got = Self.frames(answer)
            #expect(got.count == 1, "\(got.map(\.name))")
            guard case .close(let code, _)? = got.first else {
                Issue.record("not closed: \(got.map(\.name))")
                continue
            }
            #expect(code == "resultUnsealed")
        }
        #expect(try Self.snapshot(f) == before)
        // The enclave's own results are still taken.
        _ = try await K.key(client, "create", ["name": "second", "type": "ed25519"])
    }
}
