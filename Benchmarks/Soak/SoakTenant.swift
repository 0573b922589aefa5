import CloisterClient
import EnclaveWire
import Foundation
import NitroAttestation
import SecureModule
import Synchronization

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One tenant of the soak: its attested client, the program key that signs its actions, its keys, and what its
/// load has done so far (the signed calls kept to fetch their answers again at the end, the rotations and creations
/// that were answered `ok`, the ciphertexts waiting to be decrypted).
final class SoakTenant: Sendable {
    /// A signed call as sent: its operation and body (a retry sends the same bytes under the same id).
    struct Sent: Sendable {
        let kind: String
        let operation: String
        let call: SealedCall
    }

    struct State {
        var counter = 0
        var sent: [String: Sent] = [:]
        /// Request id → the latest version its `ok` answer reported, per rotated key.
        var rotations: [String: [String: UInt64]] = [:]
        var created: [String] = []
        /// Per rotated key: its rotations refused `otherBoot` or `actionExpired` and signed again. The refused one
        /// may have taken effect in a boot killed before it logged the batch (an effect without an answer).
        var inDoubt: [String: Int] = [:]
        /// Creations signed again after such a refusal whose second answer was `keyExists`: the first took effect.
        var createdInDeadBoot = 0
        var ciphertexts: [(ciphertext: String, plaintext: [UInt8])] = []
        var rotationKey = 0
        var rotationVersions: UInt64 = 1
        var keyCount = 0
    }

    static let signingKeys: [(name: String, kind: CredentialKey.Kind)] = [("sig-ed25519", .ed25519), ("sig-p256", .ecdsaP256)]
    static let box = "box"
    /// A rotated key takes this many versions, then the next one (`rot-1`, ...) is created (the enclave bounds a key's
    /// versions at 1,000, and a long soak would reach that).
    static let versionsPerRotationKey: UInt64 = 500
    /// Keys a tenant creates at most; beyond, a creation becomes a rotation (the enclave bounds keys at 1,000).
    static let maxKeys = 900

    let name: String
    let token: String
    let client: CloisterClient
    let credential: CredentialKey
    let ledger: SoakLedger
    let session: URLSession
    let state = Mutex(State())
    /// Public keys of the signing keys (version 1; they are never rotated).
    let publicKeys: Mutex<[String: [UInt8]]> = Mutex([:])

    init(name: String, token: String, base: URL, trust: TrustManifest, roots: TrustedRoots, ledger: SoakLedger) throws {
        self.name = name
        self.token = token
        self.ledger = ledger
        credential = try CredentialKey.generate(.ed25519)
        client = CloisterClient(baseURL: base, token: token, trust: trust, roots: roots, patience: .seconds(30), tenant: name, credential: credential)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 30
        session = URLSession(configuration: configuration)
    }

    static func rotationKeyName(_ n: Int) -> String { "rot-\(n)" }

    // MARK: Setup

    /// Registers the credential as the tenant's first, creates its keys; the report line.
    func setUp() async throws -> String {
        try await client.connect()
        _ = try await client.act(
            "credential.add", body: Self.json(["kind": credential.kind.rawValue, "publicKey": Base64.encode(credential.spki), "label": "soak"]))
        for key in Self.signingKeys {
            _ = try await client.act("key.create", body: Self.json(["name": key.name, "type": key.kind.rawValue]))
            let described = try await describe(key.name)
            guard let versions = described["versions"] as? [[String: Any]], let text = versions.first?["publicKey"] as? String,
                let spki = Base64.decode(text)
            else { throw SoakFailure("key.describe of \(key.name) gives no public key") }
            publicKeys.withLock { $0[key.name] = spki }
        }
        for name in [Self.box, Self.rotationKeyName(0)] {
            _ = try await client.act("key.create", body: Self.json(["name": name, "type": "aes256-gcm"]))
        }
        state.withLock { $0.keyCount = Self.signingKeys.count + 2 }
        return "tenant \(name): credential \(Hex.encode(SHA.sha256(credential.spki)).prefix(16))…, keys created"
    }

    func describe(_ key: String) async throws -> [String: Any] {
        let described = try await client.sealedRead("key.describe", body: Self.json(["name": key]))
        return try Self.object(described.result, "key.describe's result")
    }

    // MARK: Load

    /// Runs one operation of the mix, chosen by `draw` (0..<100), to its signed answer; false when the run ended
    /// before it had one.
    func step(draw: Int, until stop: ContinuousClock.Instant, giveUp: ContinuousClock.Instant) async -> Bool {
        let (kind, body) = choose(draw)
        return await perform(kind: kind, body: body, until: stop, giveUp: giveUp)
    }

    /// The kind of operation and its body: 35% sign, 20% encrypt, 15% decrypt (of an earlier ciphertext; encrypt
    /// while there is none), 15% rotate, 15% create.
    private func choose(_ draw: Int) -> (kind: String, body: [String: Any]) {
        state.withLock { (s: inout State) -> (kind: String, body: [String: Any]) in
            switch draw {
            case 0..<35:
                let key = Self.signingKeys[draw % 2]
                return ("sign", ["name": key.name, "input": Base64.encode(Random.bytes(48))])
            case 35..<70 where draw >= 55 && !s.ciphertexts.isEmpty:
                let c = s.ciphertexts.removeFirst()
                return ("decrypt", ["name": Self.box, "ciphertext": c.ciphertext, "expect": Base64.encode(c.plaintext)])
            case 35..<70:
                return ("encrypt", ["name": Self.box, "plaintext": Base64.encode(Random.bytes(40))])
            case 70..<85:
                return ("rotate", ["name": Self.rotationKeyName(s.rotationKey)])
            default:
                guard s.keyCount < Self.maxKeys else { return ("rotate", ["name": Self.rotationKeyName(s.rotationKey)]) }
                s.keyCount += 1
                return ("create", ["name": "k-\(s.counter)-\(Random.base64url(6).lowercased())", "type": "aes256-gcm"])
            }
        }
    }

    /// One logical operation: signed for the boot this client attested, sent under one request id until a signed
    /// answer comes; a refusal because the enclave restarted (`otherBoot`) or the action expired in the queue makes
    /// it sign again for the current boot under a new id (the old one can never run). Every request id is recorded.
    private func perform(kind: String, body: [String: Any], until stop: ContinuousClock.Instant, giveUp: ContinuousClock.Instant) async -> Bool {
        var payload = body
        let expected = payload.removeValue(forKey: "expect") as? String
        let operation = "key." + kind
        var signedAgain = false
        while ContinuousClock.now < stop {
            let identity: AttestedIdentity
            do { identity = try await currentIdentity() } catch {
                try? await Task.sleep(for: .milliseconds(250))
                continue
            }
            guard let deployment = identity.deployment else { return false }
            let id = state.withLock { s -> String in
                s.counter += 1
                return "\(name)-\(kind)-\(s.counter)-\(Random.base64url(6))"
            }
            let call: SealedCall
            do {
                call = try SealedCall(
                    body: Self.json(payload), tenant: name, operation: operation, requestID: id, deployment: deployment, boot: identity.boot,
                    hpke: identity.claims.hpkePublicKey, expiry: nowMS() + 600_000, credentials: [credential])
            } catch { return false }
            state.withLock { $0.sent[id] = Sent(kind: kind, operation: operation, call: call) }
            var record = SoakRecord(tenant: name, kind: kind, id: id, sent: nowMS(), verified: false, attempts: 0)
            let answer = await deliver(&record, operation: operation, call: call, giveUp: giveUp)
            if let answer {
                check(&record, answer, call: call, payload: payload, expected: expected)
            }
            await ledger.add(record)
            switch record.status {
            case "otherBoot", "actionExpired":
                if record.status == "otherBoot" { _ = try? await client.connect() }
                if kind == "rotate", let name = payload["name"] as? String { state.withLock { $0.inDoubt[name, default: 0] += 1 } }
                signedAgain = true
                continue
            case "keyExists" where kind == "create" && signedAgain:
                // The first signing of this creation took effect in a boot that died before answering it.
                state.withLock { s in
                    s.created.append(payload["name"] as? String ?? "")
                    s.createdInDeadBoot += 1
                }
                return true
            case nil: return false
            default: return record.status == "ok"
            }
        }
        return false
    }

    /// The identity of the boot to sign for: the newest attested one.
    private func currentIdentity() async throws -> AttestedIdentity {
        if let identity = client.identities.last(where: { $0.claims.boot != nil }) ?? client.identities.last { return identity }
        return try await client.connect()
    }

    /// Sends `call` under `record.id` until the host answers with a signed response that verifies; nil when
    /// `giveUp` passes first. A refused connection, a 5xx (the host or its enclave is restarting) or a timeout is
    /// retried with the same id and body; 200 or 202 is the acknowledgement (the job is committed).
    private func deliver(_ record: inout SoakRecord, operation: String, call: SealedCall, giveUp: ContinuousClock.Instant) async -> VerifiedResponse? {
        var pending = false
        while ContinuousClock.now < giveUp {
            record.attempts += 1
            let answer: (Int, [UInt8])
            do {
                if pending {
                    answer = try await http("GET", "v1/requests/" + record.id)
                } else {
                    answer = try await http("POST", "v1/call/" + operation, body: call.body, id: record.id)
                }
            } catch {
                pending = false
                try? await Task.sleep(for: .milliseconds(250))
                continue
            }
            switch answer.0 {
            case 200:
                if record.acked == nil { record.acked = nowMS() }
                do {
                    return try await client.verify(answer.1, operation: operation, requestID: record.id, body: call.body)
                } catch where error.code == .transport || error.code == .httpError {
                    pending = true  // the proof or boot document it needs is not reachable yet: fetch again
                    try? await Task.sleep(for: .milliseconds(250))
                } catch {
                    record.problem = "the signed answer does not verify: \(error)"
                    return nil
                }
            case 202:
                if record.acked == nil { record.acked = nowMS() }
                pending = true
                try? await Task.sleep(for: .milliseconds(100))
            case 404 where pending:
                // Not known (yet) to a host that restarted from a store without it: send it again, same id and body.
                pending = false
            default:
                pending = false
                try? await Task.sleep(for: .milliseconds(250))
            }
        }
        return nil
    }

    /// Records the verified answer and checks its opened result against what was asked.
    private func check(_ record: inout SoakRecord, _ answer: VerifiedResponse, call: SealedCall, payload: [String: Any], expected: String?) {
        record.answered = nowMS()
        record.status = answer.status
        record.boot = String(Hex.encode(answer.receipt.receipt.boot).prefix(16))
        guard answer.receipt.receipt.approvers == [SHA.sha256(credential.spki)] || answer.status != "ok" else {
            record.problem = "the receipt does not name the tenant's credential as the signer"
            return
        }
        guard answer.status == "ok" else {
            record.verified = true
            return
        }
        do {
            let result = try Self.object(try call.open(answer.result), "the opened result")
            try checkResult(record, result, payload: payload, expected: expected)
            record.verified = true
        } catch {
            record.problem = "\(error)"
        }
    }

    private func checkResult(_ record: SoakRecord, _ result: [String: Any], payload: [String: Any], expected: String?) throws {
        let name = payload["name"] as? String ?? ""
        switch record.kind {
        case "sign":
            guard let text = result["signature"] as? String, let version = result["version"] as? Int else { throw SoakFailure("no signature") }
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[1] == "v\(version)", let signature = Base64.decode(parts[2]),
                let spki = publicKeys.withLock({ $0[name] }), let kind = Self.signingKeys.first(where: { $0.name == name })?.kind,
                let input = (payload["input"] as? String).flatMap({ Base64.decode($0) }),
                CredentialVerifier.verify(kind: kind, spki: spki, signature: signature, message: input)
            else { throw SoakFailure("the signature does not verify under \(name)'s public key") }
        case "encrypt":
            guard let ciphertext = result["ciphertext"] as? String, ciphertext.hasPrefix("cloister:xaes:"),
                let plaintext = (payload["plaintext"] as? String).flatMap({ Base64.decode($0) })
            else { throw SoakFailure("no ciphertext") }
            state.withLock { s in
                if s.ciphertexts.count < 1000 { s.ciphertexts.append((ciphertext, plaintext)) }
            }
        case "decrypt":
            guard let plaintext = result["plaintext"] as? String, plaintext == expected else {
                throw SoakFailure("the plaintext is not the one encrypted")
            }
        case "rotate":
            guard let latest = result["latestVersion"] as? Int, result["name"] as? String == name else { throw SoakFailure("no latestVersion") }
            let roll = state.withLock { s -> Bool in
                s.rotations[name, default: [:]][record.id] = UInt64(latest)
                guard name == Self.rotationKeyName(s.rotationKey), UInt64(latest) >= Self.versionsPerRotationKey else { return false }
                s.rotationKey += 1
                return true
            }
            if roll { Task { await self.createRotationKey() } }
        case "create":
            guard result["name"] as? String == name else { throw SoakFailure("the description is of another key") }
            state.withLock { $0.created.append(name) }
        default: break
        }
    }

    /// Creates the next rotation key (a plain, recorded creation).
    private func createRotationKey() async {
        let n = state.withLock { s -> Int in
            s.keyCount += 1
            return s.rotationKey
        }
        let far = ContinuousClock.now + .seconds(3600)
        _ = await perform(kind: "create", body: ["name": Self.rotationKeyName(n), "type": "aes256-gcm"], until: far, giveUp: far)
    }

    // MARK: HTTP and JSON

    func http(_ method: String, _ path: String, body: [UInt8]? = nil, id: String? = nil) async throws -> (Int, [UInt8]) {
        guard let url = URL(string: path, relativeTo: client.baseURL) else { throw SoakFailure("bad URL \(path)") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.setValue("Bearer " + token, forHTTPHeaderField: "Authorization")
        if let id { request.setValue(id, forHTTPHeaderField: "Cloister-Request-Id") }
        if let body {
            request.httpBody = Data(body)
            request.setValue("application/octet-stream", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await session.data(for: request)
        guard let status = (response as? HTTPURLResponse)?.statusCode else { throw SoakFailure("not an HTTP response") }
        return (status, [UInt8](data))
    }

    static func json(_ value: [String: Any]) -> [UInt8] {
        // Dictionaries of strings built here always serialise.
        Array(try! JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes]))
    }

    static func object(_ bytes: [UInt8], _ what: String) throws -> [String: Any] {
        guard let value = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw SoakFailure("\(what) is not a JSON object: \(String(decoding: bytes.prefix(200), as: UTF8.self))")
        }
        return value
    }
}
