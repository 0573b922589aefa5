import AWSKMS
import CBOR
import EmulatedKMS
import CloisterClient
import EnclaveWire
import Crypto
import Foundation
import GRDB
import NitroAttestation
import Testing

@testable import EnclaveRuntime
@testable import KeyService
@testable import SecureModule

/// The key service through real host and enclave processes, checked by the client library and by swift-crypto.
@Suite(.serialized) struct KeyServiceTests {
    /// A host running the key service; `name` changes the manifest (so the build's PCRs), `builds` lists other
    /// builds the enclave accepts the genesis of, `hostArguments` are computed from the manifest file, `log` is the
    /// manifest's log section (witnesses).
    static func start(
        restart: APIFixture? = nil, name: String = "test", builds: [[Int: [UInt8]]] = [], wait: Bool = true,
        hostArguments: HostArguments = .none, register: Bool = true, recoveryKeys: [[UInt8]] = [], log: [String: Any]? = nil,
        environment: [String: String] = [:]
    ) async throws -> APIFixture {
        let f = try await APIFixture.start(restart: restart, hostArguments: hostArguments, environment: environment, wait: wait) { m in
            m["name"] = name
            if let log { m["log"] = log }
            if !recoveryKeys.isEmpty { m["recovery"] = ["keys": recoveryKeys.map { Hex.encode($0).lowercased() }] }
            var api = m["api"] as! [String: Any]
            api["workload"] = "keys"
            m["api"] = api
            if !builds.isEmpty { m["builds"] = builds.map { b in Dictionary(uniqueKeysWithValues: b.map { ("PCR\($0.key)", Hex.encode($0.value)) }) } }
        }
        // A new tenant comes into being with its first credential.
        if restart == nil && register { _ = try await Self.register(f.client(), f.credential) }
        return f
    }

    /// Adds `key` as a credential of the client's tenant (its first: signed by itself).
    static func register(_ client: CloisterClient, _ key: CredentialKey) async throws -> [String: Any] {
        try await Self.key(client, "credential.add", ["kind": key.kind.rawValue, "publicKey": Data(key.spki).base64EncodedString()])
    }

    /// Calls a key operation (`key.` is implied; `credential.` ones are named in full) as an action or a read, and
    /// returns its JSON answer (verified, opened), or throws the client's error.
    static func key(_ client: CloisterClient, _ op: String, _ body: [String: Any]) async throws -> [String: Any] {
        let operation = op.contains(".") ? op : "key." + op
        let json = Array(try JSONSerialization.data(withJSONObject: body))
        let r = KeyServiceWorkload.actions.contains(operation) ? try await client.act(operation, body: json) : try await client.call(operation, body: json)
        return try JSONSerialization.jsonObject(with: Data(r.result)) as! [String: Any]
    }

    /// The signed error status of a refused operation.
    static func refusal(_ client: CloisterClient, _ op: String, _ body: [String: Any]) async -> String? {
        do {
            _ = try await key(client, op, body)
            return nil
        } catch let e as ClientError {
            guard e.code == .operationFailed else { return "client:\(e.code.rawValue)" }
            return String(e.message.prefix { $0 != ":" })
        } catch { return "\(error)" }
    }

    static func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }

    static func signature(_ text: Any?) -> Data {
        Data(base64Encoded: String((text as! String).split(separator: ":")[2]))!
    }

    @Test func everyOperationEndToEnd() async throws {
        let f = try await Self.start()
        let c = f.client()
        let message = Data("pay 10 to bob".utf8)

        // Signing keys: the signatures verify with swift-crypto, from the public key the service describes.
        for type in ["ecdsa-p256", "ecdsa-p384", "ed25519"] {
            let created = try await Self.key(c, "create", ["name": "k-\(type)", "type": type])
            let versions = created["versions"] as! [[String: Any]]
            let spki = Data(base64Encoded: versions[0]["publicKey"] as! String)!
            let signed = try await Self.key(c, "sign", ["name": "k-\(type)", "input": message.base64EncodedString()])
            let sig = Self.signature(signed["signature"])
            switch type {
            case "ecdsa-p256":
                let key = try P256.Signing.PublicKey(derRepresentation: spki)
                #expect(key.isValidSignature(try P256.Signing.ECDSASignature(derRepresentation: sig), for: message))
                let digest = Data(SHA256.hash(data: message))
                let pre = try await Self.key(c, "sign", ["name": "k-\(type)", "input": digest.base64EncodedString(), "prehashed": true])
                #expect(key.isValidSignature(try P256.Signing.ECDSASignature(derRepresentation: Self.signature(pre["signature"])), for: SHA256.hash(data: message)))
            case "ecdsa-p384":
                let key = try P384.Signing.PublicKey(derRepresentation: spki)
                #expect(key.isValidSignature(try P384.Signing.ECDSASignature(derRepresentation: sig), for: message))
            default:
                let key = try Curve25519.Signing.PublicKey(rawRepresentation: spki.suffix(32))
                #expect(key.isValidSignature(sig, for: message))
                #expect(await Self.refusal(c, "sign", ["name": "k-\(type)", "input": message.base64EncodedString(), "prehashed": true]) == "badRequest")
            }
            let verified = try await Self.key(c, "verify", ["name": "k-\(type)", "input": message.base64EncodedString(), "signature": signed["signature"]!])
            #expect(verified["valid"] as? Bool == true)
            let wrong = try await Self.key(c, "verify", ["name": "k-\(type)", "input": Self.b64("pay 99 to eve"), "signature": signed["signature"]!])
            #expect(wrong["valid"] as? Bool == false)
        }

        // Rotation: new signatures use the latest version; old signatures still verify.
        let old = try await Self.key(c, "sign", ["name": "k-ed25519", "input": Self.b64("a")])
        let rotated = try await Self.key(c, "rotate", ["name": "k-ed25519"])
        #expect(rotated["latestVersion"] as? Int == 2)
        let new = try await Self.key(c, "sign", ["name": "k-ed25519", "input": Self.b64("a")])
        #expect((new["signature"] as! String).hasPrefix("cloister:v2:"))
        #expect(try await Self.key(c, "verify", ["name": "k-ed25519", "input": Self.b64("a"), "signature": old["signature"]!])["valid"] as? Bool == true)

        // Encryption: versions, context, rewrap, retirement.
        _ = try await Self.key(c, "create", ["name": "box", "type": "aes256-gcm"])
        let v1 = try await Self.key(c, "encrypt", ["name": "box", "plaintext": Self.b64("secret"), "context": Self.b64("order-1")])
        let v1text = v1["ciphertext"] as! String
        #expect(v1text.hasPrefix("cloister:xaes:v1:"))
        #expect(await Self.refusal(c, "decrypt", ["name": "box", "ciphertext": v1text]) == "invalidCiphertext")
        _ = try await Self.key(c, "rotate", ["name": "box"])
        let rewrapped = try await Self.key(c, "rewrap", ["name": "box", "ciphertext": v1text, "context": Self.b64("order-1")])
        let v2text = rewrapped["ciphertext"] as! String
        #expect(v2text.hasPrefix("cloister:xaes:v2:"))
        _ = try await Self.key(c, "configure", ["name": "box", "minDecryptionVersion": 2])
        #expect(await Self.refusal(c, "decrypt", ["name": "box", "ciphertext": v1text, "context": Self.b64("order-1")]) == "versionRetired")
        let plain = try await Self.key(c, "decrypt", ["name": "box", "ciphertext": v2text, "context": Self.b64("order-1")])
        #expect(plain["plaintext"] as? String == Self.b64("secret"))

        // Listing, description, deletion.
        #expect(try await Self.key(c, "list", [:])["keys"] as? [String] == ["box", "k-ecdsa-p256", "k-ecdsa-p384", "k-ed25519"])
        let described = try await Self.key(c, "describe", ["name": "box"])
        #expect(described["minDecryptionVersion"] as? Int == 2)
        #expect(await Self.refusal(c, "delete", ["name": "box"]) == "deletionNotAllowed")
        _ = try await Self.key(c, "configure", ["name": "box", "deletionAllowed": true])
        _ = try await Self.key(c, "delete", ["name": "box"])
        #expect(await Self.refusal(c, "describe", ["name": "box"]) == "keyNotFound")
        #expect(try await Self.key(c, "list", [:])["keys"] as? [String] == ["k-ecdsa-p256", "k-ecdsa-p384", "k-ed25519"])
        // A deleted name can be created again, as a new key.
        #expect(try await Self.key(c, "create", ["name": "box", "type": "aes256-gcm"])["latestVersion"] as? Int == 1)
        #expect(await Self.refusal(c, "decrypt", ["name": "box", "ciphertext": v2text, "context": Self.b64("order-1")]) == "unknownVersion")

        // Bad requests are signed refusals with their codes.
        #expect(await Self.refusal(c, "create", ["name": "k-ed25519", "type": "ed25519"]) == "keyExists")
        #expect(await Self.refusal(c, "create", ["name": "x", "type": "rsa-2048"]) == "badRequest")
        #expect(await Self.refusal(c, "create", ["name": "Bad Name", "type": "ed25519"]) == "badRequest")
        #expect(await Self.refusal(c, "sign", ["name": "k-ed25519", "input": "%%%"]) == "badRequest")
        #expect(await Self.refusal(c, "encrypt", ["name": "k-ed25519", "plaintext": Self.b64("x")]) == "unsupportedOperation")
        #expect(await Self.refusal(c, "verify", ["name": "k-ed25519", "input": Self.b64("a"), "signature": "cloister:v9:AAAA"]) == "unknownVersion")
        #expect(await Self.refusal(c, "decrypt", ["name": "k-ed25519", "ciphertext": "nonsense"]) == "unsupportedOperation")
        #expect(await Self.refusal(c, "frobnicate", [:]) == "unknownOperation")
        // A misspelled option is refused, never ignored (here it would have signed the digest as a message).
        #expect(await Self.refusal(c, "sign", ["name": "k-ecdsa-p256", "input": Self.b64("x"), "prehash": true]) == "badRequest")
        #expect(await Self.refusal(c, "verify", ["name": "k-ed25519", "input": Self.b64("a"), "signature": "nonsense"]) == "invalidSignature")
        // The test operations that could hold the worker (sleep) are not part of the key service.
        await #expect(throws: ClientError.self) { try await c.call("sleep", body: Array("10".utf8)) }
        #expect(try await c.call("sha256", body: []).status == "ok")
        let raw = try? await c.call("key.list", body: Array("not json".utf8))
        #expect(raw == nil)
    }

    @Test func tenantsCannotSeeEachOthersKeys() async throws {
        let f = try await Self.start()
        let admin = ["Authorization": "Bearer " + HostProcess.adminToken]
        _ = try await f.http("POST", "v1/admin/tenants", headers: admin, body: Array("{\"name\":\"other\"}".utf8))
        let (_, body, _) = try await f.http("POST", "v1/admin/tokens", headers: admin, body: Array("{\"tenant\":\"other\"}".utf8))
        let a = f.client()
        let b = f.client(token: APIFixture.token(body)!, tenant: "other", credential: try CredentialKey.generate(.ecdsaP256))
        _ = try await Self.register(b, b.credential!)
        _ = try await Self.key(a, "create", ["name": "treasury", "type": "ecdsa-p256"])
        #expect(try await Self.key(b, "list", [:])["keys"] as? [String] == [])
        #expect(await Self.refusal(b, "sign", ["name": "treasury", "input": Self.b64("x")]) == "keyNotFound")
        #expect(await Self.refusal(b, "describe", ["name": "treasury"]) == "keyNotFound")
        // The same name in another tenant is another key.
        let theirs = try await Self.key(b, "create", ["name": "treasury", "type": "ecdsa-p256"])
        let ours = try await Self.key(a, "describe", ["name": "treasury"])
        #expect((theirs["versions"] as! [[String: Any]])[0]["publicKey"] as? String != (ours["versions"] as! [[String: Any]])[0]["publicKey"] as? String)
    }

    @Test func keysSurviveRestarts() async throws {
        let f = try await Self.start()
        let c = f.client()
        _ = try await Self.key(c, "create", ["name": "durable", "type": "aes256-gcm"])
        let sealed = try await Self.key(c, "encrypt", ["name": "durable", "plaintext": Self.b64("kept")])

        // The enclave killed: its successor unseals the master and opens the key.
        let pid = try #require(try await f.host.enclavePID())
        kill(pid, SIGKILL)
        try await f.host.waitHealthy(within: 30, notPID: pid)
        let afterEnclave = try await Self.key(c, "decrypt", ["name": "durable", "ciphertext": sealed["ciphertext"]!])
        #expect(afterEnclave["plaintext"] as? String == Self.b64("kept"))

        // The host (and with it the enclave) killed and started again on the same data.
        let orphan = try await f.host.enclavePID()
        _ = try await f.host.stop(SIGKILL)
        try await HostProcess.waitGone(orphan)
        let g = try await Self.start(restart: f)
        let afterHost = try await Self.key(g.client(), "decrypt", ["name": "durable", "ciphertext": sealed["ciphertext"]!])
        #expect(afterHost["plaintext"] as? String == Self.b64("kept"))
    }

    /// What the host holds, read as the host could: the sealed master, the key blobs.
    struct HostView {
        let database: DatabaseQueue
        let files: [URL]

        init(_ f: APIFixture) throws {
            let dir = f.host.directory.appendingPathComponent("data")
            database = try DatabaseQueue(path: dir.appendingPathComponent("cloister.sqlite").path)
            files = ["cloister.sqlite", "cloister.sqlite-wal", "cloister.sqlite-shm"].map { dir.appendingPathComponent($0) }
        }

        func blob(_ key: String) throws -> (Int64, [UInt8])? {
            try database.read { db in
                try Row.fetchOne(db, sql: "SELECT version, value FROM blobs WHERE key = ?", arguments: [key]).map { ($0[0], [UInt8]($0[1] as Data)) }
            }
        }

        func delete(_ key: String) throws {
            try database.write { db in try db.execute(sql: "DELETE FROM blobs WHERE key = ?", arguments: [key]) }
        }

        /// Sets `key` to exactly this version and value (putting back one that was deleted, too).
        func put(_ key: String, version: Int64, value: [UInt8]) throws {
            try database.write { db in
                try db.execute(
                    sql: "INSERT INTO blobs (key, version, value, updated) VALUES (?, ?, ?, 0) ON CONFLICT (key) DO UPDATE SET version = excluded.version, value = excluded.value",
                    arguments: [key, version, Data(value)])
            }
        }

        /// Stores `value` under `key` as the host's store would (a new key gets version 1, a known one its next).
        func store(_ key: String, value: [UInt8]) throws {
            try database.write { db in
                try db.execute(
                    sql: "INSERT INTO blobs (key, version, value, updated) VALUES (?, 1, ?, 0) ON CONFLICT (key) DO UPDATE SET version = version + 1, value = excluded.value",
                    arguments: [key, Data(value)])
            }
        }

        /// Runs `sql` on the host's database, as its operator could.
        func execute(_ sql: String) throws { try database.write { db in try db.execute(sql: sql) } }

        func keys(prefix: String) throws -> [String] {
            try database.read { db in try String.fetchAll(db, sql: "SELECT key FROM blobs WHERE key LIKE ? ORDER BY key", arguments: [prefix + "%"]) }
        }
    }

    @Test func theHostHoldsNoPlaintextKeyAndItsEditsAreRefused() async throws {
        let f = try await Self.start()
        let c = f.client()
        let names = ["alpha", "beta"]
        _ = try await Self.key(c, "create", ["name": names[0], "type": "ecdsa-p256"])
        _ = try await Self.key(c, "create", ["name": names[1], "type": "aes256-gcm"])
        _ = try await Self.key(c, "rotate", ["name": names[1]])
        let host = try HostView(f)

        // The test plays the emulated KMS (it has its key file, as this machine's owner does) with a policy of its
        // own that lets anyone decrypt, to learn the master and every key.
        let keys = try EmulatedKeyStore(path: f.host.directory.appendingPathComponent("emulator/kms/keys.cbor").path)
        let anyone = try EmulatedKeyPolicy(json: Array(#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*"}]}"#.utf8))
        let owner = EmulatedKMS(region: "us-east-1", keys: keys, policy: anyone, roots: TrustedRoots(certificates: []))
        let (_, recordBytes) = try #require(try host.blob(DeploymentRecord.storeKey))
        let record = try DeploymentRecord(encoded: recordBytes)
        let genesisDocument = try #require(record.genesis)
        let genesisData = try #require(try AttestationVerifier.parse(genesisDocument).1.userData)
        let genesis = try GenesisClaims(encoded: genesisData)
        let opened = try owner.decrypt(KMSDecryptRequest(ciphertextBlob: record.sealed, encryptionContext: DeploymentGenesis.context(commitment: genesis.commitment)), principal: "test")
        let secret = try #require(opened.plaintext)
        let master = try MasterSecret(secret)
        let wrap = master.derive("tenant-wrap", ["acme"])
        let namesKey = master.derive("tenant-names", ["acme"])
        func storeKey(_ name: String) -> String { "keys/acme/" + Hex.encode(HKDF.hmac(.sha256, key: namesKey, Array("name\u{0}\(name)".utf8)).prefix(16)) }
        var secrets: [[UInt8]] = [secret, wrap, namesKey, master.derive("deployment-key", [])]
        for name in names {
            let (version, value) = try #require(try host.blob(storeKey(name)))
            // Each record: the tracker's header, then the key blob (nonce, AES-GCM).
            let blob = Array(value.dropFirst(TrackedStore.headerSize))
            let plaintext = try AESGCM.open(Array(blob.dropFirst(12)), key: wrap, nonce: Array(blob.prefix(12)), aad: KeyVault.aad("acme", name, UInt64(version)))
            secrets += try KeyRecord(encoded: plaintext).versions.map(\.material)
        }
        #expect(secrets.count == 7)
        for file in host.files {
            guard let bytes = try? [UInt8](Data(contentsOf: file)) else { continue }
            for secret in secrets {
                #expect(!Self.contains(bytes, secret), "\(file.lastPathComponent) holds a secret of \(secret.count) bytes")
            }
        }

        // Blobs swapped between keys, an old version served again, a tampered ciphertext: each refused by name, by the
        // store's tracker (whose tag names the key and version, docs/log.md) before the key service looks.
        let keyA = storeKey("alpha")
        let keyB = storeKey("beta")
        let a = try #require(try host.blob(keyA))
        let b = try #require(try host.blob(keyB))
        // Keys in use are kept in the enclave; a change (rotate, configure, delete) reads the store again.
        try host.put(keyA, version: a.0, value: b.1)
        #expect(await Self.refusal(c, "rotate", ["name": "alpha"]) == "storeRecordInvalid")
        // Another tenant's key of the same name and type, moved under ours (same store version).
        let admin = ["Authorization": "Bearer " + HostProcess.adminToken]
        _ = try await f.http("POST", "v1/admin/tenants", headers: admin, body: Array("{\"name\":\"other\"}".utf8))
        let (_, tokenBody, _) = try await f.http("POST", "v1/admin/tokens", headers: admin, body: Array("{\"tenant\":\"other\"}".utf8))
        let other = f.client(token: APIFixture.token(tokenBody)!, tenant: "other", credential: try CredentialKey.generate(.ed25519))
        _ = try await Self.register(other, other.credential!)
        _ = try await Self.key(other, "create", ["name": "alpha", "type": "ecdsa-p256"])
        let theirs = try #require(try host.keys(prefix: "keys/other/").compactMap { try host.blob($0) }.first { $0.0 == a.0 && $0.1.count > 100 })
        try host.put(keyA, version: a.0, value: theirs.1)
        #expect(await Self.refusal(c, "rotate", ["name": "alpha"]) == "storeRecordInvalid")
        try host.put(keyA, version: a.0, value: a.1)
        _ = try await Self.key(c, "rotate", ["name": "alpha"])
        _ = try await Self.key(c, "sign", ["name": "alpha", "input": Self.b64("x")])

        let before = try #require(try host.blob(keyB))
        _ = try await Self.key(c, "rotate", ["name": "beta"])
        let after = try #require(try host.blob(keyB))
        try host.put(keyB, version: after.0, value: before.1)
        #expect(await Self.refusal(c, "configure", ["name": "beta", "deletionAllowed": false]) == "storeRecordInvalid")
        try host.put(keyB, version: before.0, value: before.1)
        #expect(await Self.refusal(c, "configure", ["name": "beta", "deletionAllowed": false]) == "staleKeyBlob")
        // Absent, after this boot has seen it: not "no such key", so no new material under its name.
        try host.delete(keyB)
        #expect(await Self.refusal(c, "configure", ["name": "beta", "deletionAllowed": false]) == "staleKeyBlob")
        #expect(await Self.refusal(c, "create", ["name": "beta", "type": "ed25519"]) == "staleKeyBlob")
        #expect(try host.blob(keyB) == nil, "nothing was written under the name")
        try host.put(keyB, version: after.0, value: after.1)
        // Meanwhile the key in use never left the enclave: it still encrypts with the latest version.
        #expect((try await Self.key(c, "encrypt", ["name": "beta", "plaintext": Self.b64("x")])["version"] as? Int) == 3)

        let encrypted = try await Self.key(c, "encrypt", ["name": "beta", "plaintext": Self.b64("hello")])
        var text = encrypted["ciphertext"] as! String
        let last = text.removeLast()
        text.append(last == "A" ? "B" : "A")
        #expect(await Self.refusal(c, "decrypt", ["name": "beta", "ciphertext": text]) == "invalidCiphertext")
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count >= 16, haystack.count >= needle.count else { return false }
        let first = needle[0]
        var i = 0
        while i <= haystack.count - needle.count {
            if haystack[i] == first && Array(haystack[i..<i + needle.count]) == needle { return true }
            i += 1
        }
        return false
    }
}
