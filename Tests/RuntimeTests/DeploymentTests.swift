import CBOR
import NIOSSL
import CloisterClient
import CloisterTestSupport
import EmulatedKMS
@testable import EnclaveRuntime
import EnclaveWire
import Foundation
import Logging
import NIOPosix
import NitroAttestation
import SecureModule
import Testing
import VsockBridge

/// The deployment's master secret against a hostile host, through real host and enclave processes: the host
/// plants blobs, swaps records, hides them, and runs builds the deployment does not authorise.
@Suite(.serialized) struct DeploymentTests {
    typealias K = KeyServiceTests

    /// Stops a host and its enclave.
    static func stop(_ f: APIFixture) async throws {
        let enclave = try? await f.host.enclavePID()
        _ = try await f.host.stop(SIGTERM)
        try await HostProcess.waitGone(enclave)
    }

    /// Asserts that a host whose enclave is refused serves no attestation, and that the log names `code`.
    static func expectRefused(_ f: APIFixture, _ code: String) async throws {
        try await f.host.waitForLog(code)
        let (status, _, _) = try await f.http("GET", "v1/attestation?nonce=00")
        #expect(status == 503, "an enclave without its master serves nothing")
        // /healthz says why, once the host has seen the enclave stop (its log line may come first).
        var said = false
        var last: (Int, [String: Any]) = (0, [:])
        let deadline = Date().addingTimeInterval(30)
        while !said && Date() < deadline {
            last = try await f.host.health()
            said = last.0 == 503 && String(describing: last.1).contains(code)
            if !said { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(said, "\(last)")
        try await stop(f)
        // The tests restart from the first host again: this one must leave the directory to them.
        f.host.keepDirectory = true
    }

    /// The deployment a fresh attestation names.
    static func deployment(_ f: APIFixture) async throws -> [UInt8] {
        try #require(try await f.client().connect().claims.deployment)
    }

    /// A secret the host has KMS seal with the instance role's credentials (as a role allowed to call Encrypt can),
    /// under the deployment's own encryption context, reaching the emulated KMS the way the enclave does (the
    /// bridge's credentials channel and egress): no private key of the emulator is used.
    static func sealOwnSecret(_ f: APIFixture, commitment: [UInt8]) async throws -> [UInt8] {
        let root = try EmulatedRoot.load(directory: f.host.directory.appendingPathComponent("emulator").path)
        let bridge = try BridgeAddress("tcp://127.0.0.1:\(f.host.ports.bridge)")
        // The host's owner holds the emulated root and the build, so it can prove a boot of its own to its bridge.
        let prover = try await f.bridgeCredential().prover
        let credentials = CredentialsClient(bridge: bridge, prover: prover, maxFrameSize: WireFrame.defaultMaxFrameSize, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"))
        credentials.start()
        defer { credentials.stop() }
        let kms = DeploymentManifest.KMS.emulationDefault
        var allow = EgressAllowlist()
        try allow.add("\(kms.endpointHost):\(kms.endpointPort)")
        let dialer = EgressDialer(bridge: bridge, prover: prover, allowlist: allow, maxFrameSize: WireFrame.defaultMaxFrameSize, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"))
        let provider = try KMSSealingProvider.make(kms: kms, dialer: dialer, trust: [try NIOSSLCertificate(bytes: root.certificate.der, format: .der)], credentials: credentials)
        return try await provider.seal(Random.bytes(32), context: DeploymentGenesis.context(commitment: commitment))
    }

    @Test func aBlobTheHostSealedIsRefusedWithOrWithoutTheRealGenesis() async throws {
        let f = try await K.start()
        _ = try await K.key(f.client(), "create", ["name": "kept", "type": "ed25519"])
        let before = try await Self.deployment(f)
        let mine = try await Self.sealOwnSecret(f, commitment: before)
        try await Self.stop(f)
        let (version, bytes) = try #require(try K.HostView(f).blob(DeploymentRecord.storeKey))
        let real = try DeploymentRecord(encoded: bytes)

        try K.HostView(f).put(DeploymentRecord.storeKey, version: version, value: DeploymentRecord(sealed: mine, genesis: nil).encoded)
        try await Self.expectRefused(try await K.start(restart: f, wait: false), "genesisMissing")
        try K.HostView(f).put(DeploymentRecord.storeKey, version: version, value: DeploymentRecord(sealed: mine, genesis: real.genesis).encoded)
        try await Self.expectRefused(try await K.start(restart: f, wait: false), "genesisBlobMismatch")

        // The real record back: the same deployment, and its key.
        try K.HostView(f).put(DeploymentRecord.storeKey, version: version, value: bytes)
        let g = try await K.start(restart: f)
        #expect(try await Self.deployment(g) == before)
        _ = try await K.key(g.client(), "sign", ["name": "kept", "input": K.b64("x")])
    }

    /// The host hides the deployment record: the next boot makes a new deployment (no key of the old one is
    /// revealed), and a client that knew the old one refuses it by name, whether it remembers the commitment from
    /// this session or is given it (as the CLI does from known-deployments).
    @Test func aHiddenRecordMakesANewDeploymentThatClientsRefuse() async throws {
        let f = try await K.start()
        let c = f.client()
        _ = try await K.key(c, "create", ["name": "kept", "type": "ed25519"])
        let old = try #require(c.deployment)
        try await Self.stop(f)
        f.host.keepDirectory = true
        try K.HostView(f).delete(DeploymentRecord.storeKey)
        // The log head goes too: a new deployment refuses another deployment's head (DeploymentTests+Log).
        try K.HostView(f).delete(LogHeadRecord.storeKey)
        let g = try await K.start(restart: f)
        let new = try await Self.deployment(g)
        #expect(new != old)
        for client in [c, CloisterClient(baseURL: g.base, token: g.tenantToken, trust: g.trust, roots: g.roots, tenant: "acme", deployment: old)] {
            do {
                try await client.connect()
                Issue.record("a client that knew deployment \(Hex.encode(old).prefix(16))… accepted another")
            } catch {
                #expect(error.code == .deploymentChanged, "\(error)")
            }
        }
        // The old deployment's keys are not in the new one (its store names come from the new master).
        let fresh = CloisterClient(baseURL: g.base, token: g.tenantToken, trust: g.trust, roots: g.roots, tenant: "acme")
        #expect(await K.refusal(fresh, "describe", ["name": "kept"]) == "keyNotFound")
    }

    @Test func anotherDeploymentsGenesisIsRefusedAndItsWholeRecordIsAnotherDeployment() async throws {
        // Two deployments of the same build on the same machine: the host sets the first one's data aside and
        // starts again on an empty store.
        let f = try await K.start()
        let ours = try await Self.deployment(f)
        try await Self.stop(f)
        let data = f.host.directory.appendingPathComponent("data")
        let aside = f.host.directory.appendingPathComponent("data-first")
        try FileManager.default.moveItem(at: data, to: aside)
        let second = try await K.start(restart: f, wait: false)
        try await APIFixture.waitForQueue(second.base, host: second.host)
        let theirs = try await Self.deployment(second)
        #expect(theirs != ours)
        try await Self.stop(second)
        second.host.keepDirectory = true
        let (_, theirBytes) = try #require(try K.HostView(f).blob(DeploymentRecord.storeKey))
        try FileManager.default.removeItem(at: data)
        try FileManager.default.moveItem(at: aside, to: data)

        let (version, bytes) = try #require(try K.HostView(f).blob(DeploymentRecord.storeKey))
        let theirRecord = try DeploymentRecord(encoded: theirBytes)
        try K.HostView(f).put(DeploymentRecord.storeKey, version: version, value: DeploymentRecord(sealed: try DeploymentRecord(encoded: bytes).sealed, genesis: theirRecord.genesis).encoded)
        try await Self.expectRefused(try await K.start(restart: f, wait: false), "genesisBlobMismatch")

        // Their whole record is consistent: the enclave continues their deployment, which a client pinning ours refuses.
        // Their deployment logged nothing, so our log head goes (their enclave would refuse ours by name).
        try K.HostView(f).put(DeploymentRecord.storeKey, version: version, value: theirBytes)
        try K.HostView(f).delete(LogHeadRecord.storeKey)
        let swapped = try await K.start(restart: f)
        #expect(try await Self.deployment(swapped) == theirs)
    }

    @Test func anUpgradeKeepsTheMasterAndTheLogAndUnlistedBuildsAreRefused() async throws {
        // Build A makes the deployment, a key and a signature.
        let a = try await K.start(name: "build A")
        let message = Array("pay 10 to bob".utf8)
        let created = try await K.key(a.client(), "create", ["name": "signer", "type": "ed25519"])
        let publicKey = try #require(((created["versions"] as? [[String: Any]])?.first?["publicKey"] as? String).flatMap { Data(base64Encoded: $0) })
        _ = try await K.key(a.client(), "sign", ["name": "signer", "input": Data(message).base64EncodedString()])
        let deployment = try await Self.deployment(a)
        let pinsA = try a.pinsFile("pins-a.json")
        try await Self.stop(a)

        // Build B: another manifest, which lists A; the sealing policy authorises A and B.
        let policyAB = HostArguments { manifest in
            let pinsB = manifest.deletingLastPathComponent().appendingPathComponent("pins-b.json")
            try APIFixture.writePins(try APIFixture.pins(manifest: manifest), to: pinsB)
            return ["--sealing-policy", pinsA, "--sealing-policy", pinsB.path]
        }
        let b = try await K.start(restart: a, name: "build B", builds: [a.trust.pcrs], hostArguments: policyAB)
        #expect(b.trust.pcrs != a.trust.pcrs)
        #expect(try await Self.deployment(b) == deployment, "build B continues build A's deployment")
        let signed = try await K.key(b.client(), "sign", ["name": "signer", "input": Data(message).base64EncodedString()])
        let signature = K.signature(signed["signature"])
        #expect(Ed25519Key.verify(Array(signature), of: message, publicKey: Array(publicKey.suffix(32))), "build B signs with build A's key")

        // The receipt log audits across both builds, each boot against its own pins.
        let log = try await b.client(token: b.auditorToken).exportLog()
        let report = AuditVerifier(trusts: [a.trust, b.trust], roots: b.roots).verify(log)
        #expect(report.failure == nil, "\(String(describing: report.failure))")
        #expect(report.boots.count == 2)
        try await Self.stop(b)

        // Build C, not in the sealing policy: kept off the bridge, which admits the builds the policy names.
        let c0 = try await K.start(restart: a, name: "build C", builds: [a.trust.pcrs], wait: false, hostArguments: HostArguments { _ in ["--sealing-policy", pinsA] })
        try await c0.host.waitForLog("channelAttestationInvalid")
        let (status, _, _) = try await c0.http("GET", "v1/attestation?nonce=00")
        #expect(status == 503, "an enclave kept off the bridge serves nothing")
        #expect(c0.host.log(containing: "enclave said hello").isEmpty)
        try await Self.stop(c0)
        c0.host.keepDirectory = true
        // Admitted to the bridge: refused by the sealing service, whatever its manifest lists.
        let bridgeC = HostArguments { manifest in
            let pinsC = manifest.deletingLastPathComponent().appendingPathComponent("pins-c.json")
            try APIFixture.writePins(try APIFixture.pins(manifest: manifest), to: pinsC)
            return ["--sealing-policy", pinsA, "--bridge-pins", pinsC.path]
        }
        let c1 = try await K.start(restart: a, name: "build C", builds: [a.trust.pcrs], wait: false, hostArguments: bridgeC)
        try await Self.expectRefused(c1, "kms.accessDenied")
        // Build C under a policy that follows whatever the host launches, but not listing A: refused by the enclave.
        let c2 = try await K.start(restart: a, name: "build C", wait: false)
        try await Self.expectRefused(c2, "genesisUnauthorised")
    }

    /// The KMS key is lost (the emulated KMS forgets it): the enclave cannot unseal and waits; the holder of the
    /// recovery key restores the master with the CLI (which checks the genesis and attests the enclave); the
    /// deployment, its commitment and its keys are the same afterwards, and ciphertexts made before decrypt.
    @Test func aLostKMSKeyIsRecoveredWithTheRecoveryKeyAndOldCiphertextsDecrypt() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-recovery-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let keyFile = dir.appendingPathComponent("recovery.key").path
        let keygen = try await BuiltTool.run("cloister", ["recovery", "keygen", "--out", keyFile], environment: [:])
        #expect(keygen.status == 0, "\(keygen.stderr)")
        let publicKey = try #require(Hex.decode(keygen.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect((try FileManager.default.attributesOfItem(atPath: keyFile)[.posixPermissions] as? Int) == 0o600)

        let f = try await K.start(recoveryKeys: [publicKey])
        _ = try await K.key(f.client(), "create", ["name": "box", "type": "aes256-gcm"])
        let sealed = try await K.key(f.client(), "encrypt", ["name": "box", "plaintext": K.b64("before the loss")])["ciphertext"] as! String
        let before = try await Self.deployment(f)
        // The recovery record is in the host's store, and it is ciphertext only.
        let (_, recoveryBytes) = try #require(try K.HostView(f).blob(RecoveryRecord.storeKey))
        let recovery = try RecoveryRecord(encoded: recoveryBytes)
        #expect(recovery.commitment == before)
        #expect(recovery.entries.map(\.key) == [publicKey])
        #expect(Ed25519Key.verify(recovery.signature, of: recovery.signedBytes, publicKey: before))
        // A record the host made (the right key and commitment, useless ciphertexts) is replaced at the next boot.
        let (version, _) = try #require(try K.HostView(f).blob(RecoveryRecord.storeKey))
        let useless = try HPKEX25519.seal(to: publicKey, info: RecoveryRecord.info, aad: before, plaintext: Random.bytes(32))
        let forged = RecoveryRecord(
            commitment: before, entries: [.init(key: publicKey, enc: useless.enc, ciphertext: useless.ciphertext)], signature: [UInt8](repeating: 0, count: 64))
        try await Self.stop(f)
        try K.HostView(f).put(RecoveryRecord.storeKey, version: version, value: forged.encoded)
        let f2 = try await K.start(restart: f, recoveryKeys: [publicKey])
        let (_, rewritten) = try #require(try K.HostView(f2).blob(RecoveryRecord.storeKey))
        #expect(try RecoveryRecord(encoded: rewritten).entries != forged.entries, "the forged recovery record was kept")
        try await Self.stop(f2)

        let keys = try EmulatedKeyStore(path: f.host.directory.appendingPathComponent("emulator/kms/keys.cbor").path)
        try keys.delete(DeploymentManifest.KMS.emulationDefault.keyID)
        let g = try await K.start(restart: f, wait: false, recoveryKeys: [publicKey])
        // The enclave cannot unseal; it serves nothing but recovery.
        var waiting = false
        for _ in 0..<300 where !waiting {
            if let identity = try? await g.client().connect() { waiting = identity.deployment == nil } else { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(waiting, "the enclave did not come up awaiting recovery")
        let meanwhile = await Self.failure(g.client(), "key.describe", Array(#"{"name":"box"}"#.utf8))
        #expect(meanwhile == "awaitingRecovery", "\(meanwhile ?? "answered")")

        // Someone without the recovery key cannot restore: a key that is not listed is refused by the CLI, and a
        // master that is not the deployment's is refused by the enclave.
        let env = [
            "CLOISTER_TOKEN": g.tenantToken, "CLOISTER_TENANT": "acme", "CLOISTER_CONFIG_DIR": dir.appendingPathComponent("config").path,
            "CLOISTER_ADMIN_TOKEN": HostProcess.adminToken,
        ]
        // The records are for the operator and auditors, not for anyone who reaches the API.
        let (anonymous, _, _) = try await g.http("GET", "v1/deployment")
        #expect(anonymous == 401)
        let (tenant, _, _) = try await g.http("GET", "v1/deployment", headers: ["Authorization": "Bearer " + g.tenantToken])
        #expect(tenant == 403)
        let trust = ["--manifest", try g.pinsFile("pins.json"), "--root", g.host.directory.appendingPathComponent("emulator/root.pem").path]
        let strangerFile = dir.appendingPathComponent("stranger.key").path
        _ = try await BuiltTool.run("cloister", ["recovery", "keygen", "--out", strangerFile], environment: [:])
        let refused = try await BuiltTool.run("cloister", ["recovery", "restore", g.base.absoluteString, "--recovery-key", strangerFile] + trust, environment: env)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("not sealed to this recovery key"), "\(refused.stderr)")
        let identity = try await g.client().connect()
        let (enc, ct) = try HPKEX25519.seal(to: identity.claims.hpkePublicKey, info: RecoveryRecord.restoreInfo, aad: identity.boot, plaintext: Random.bytes(32))
        let planted = await Self.failure(g.client(), "recovery.restore", RecoveryRecord.restoreBody(enc: enc, ciphertext: ct))
        #expect(planted == "masterCommitmentMismatch", "\(planted ?? "answered")")

        let restore = try await BuiltTool.run("cloister", ["recovery", "restore", g.base.absoluteString, "--recovery-key", keyFile] + trust, environment: env)
        #expect(restore.status == 0, "\(restore.stdout)\n\(restore.stderr)")
        #expect(restore.stdout.contains("restored:"), "\(restore.stdout)")

        // The enclave booted again on its own: the same deployment, the same key, and what was encrypted before the
        // loss decrypts.
        #expect(try await Self.deployment(g) == before)
        let opened = try await K.key(g.client(), "decrypt", ["name": "box", "ciphertext": sealed])
        #expect(opened["plaintext"] as? String == K.b64("before the loss"))
        try await Self.stop(g)
        // The record now names the new blob through a reseal document; the genesis is the first one still. A host
        // started again unseals it the ordinary way.
        let (_, bytes) = try #require(try K.HostView(g).blob(DeploymentRecord.storeKey))
        let record = try DeploymentRecord(encoded: bytes)
        #expect(record.reseal != nil)
        let h = try await K.start(restart: g, recoveryKeys: [publicKey])
        #expect(try await Self.deployment(h) == before)
        try await Self.stop(h)
    }

    /// The signed status of a refused call.
    static func failure(_ client: CloisterClient, _ operation: String, _ body: [UInt8]) async -> String? {
        do {
            _ = try await client.call(operation, body: body)
            return nil
        } catch let e as ClientError {
            return e.code == .operationFailed ? String(e.message.prefix { $0 != ":" }) : "client:\(e.code.rawValue)"
        } catch { return "\(error)" }
    }

    /// The instance role's credentials live 4 seconds here (AWS: about 6 hours): the host refreshes them before they
    /// expire and the enclave asks for the current ones at each use, so boots spread over several lifetimes all
    /// unseal the master through KMS, and none fails for stale credentials.
    @Test func credentialsThatExpireAreRefreshedWithNoFailedUnseal() async throws {
        let f = try await K.start(hostArguments: HostArguments { _ in ["--emulated-credentials-lifetime", "4"] })
        let before = try await Self.deployment(f)
        var boots = 0
        let start = Date()
        while Date().timeIntervalSince(start) < 13 {
            let pid = try #require(try await f.host.enclavePID())
            kill(pid, SIGKILL)
            // The next boot unseals with whatever credentials are current then, and serves the same deployment.
            try await f.host.waitHealthy(within: 60, notPID: pid)
            #expect(try await Self.deployment(f) == before)
            boots += 1
        }
        #expect(boots >= 2)
        #expect(Date().timeIntervalSince(start) > 8, "the boots span two lifetimes of the credentials")
        // The host's health reports fresh credentials, and no unseal was refused for expired ones.
        let (status, body) = try await f.host.health()
        #expect(status == 200, "\(body)")
        #expect((body["awsCredentials"] as? [String: Any])?["ok"] as? Bool == true, "\(body)")
        #expect(!f.host.logLines.contains { "\($0)".contains("expiredToken") }, "an unseal was refused for expired credentials")
        try await Self.stop(f)
    }

    /// A host that withholds the instance role's credentials (its metadata service unreachable) cannot push an
    /// enclave with recovery keys into waiting for a recovery: only KMS saying the key is gone does. The enclave
    /// stops, says why, serves nothing, and unseals as before once credentials come back.
    @Test func withheldCredentialsStopTheEnclaveAndDoNotStartARecovery() async throws {
        let recovery = try X25519Key.generate().publicKey
        let f = try await K.start(recoveryKeys: [recovery])
        let before = try await Self.deployment(f)
        try await Self.stop(f)
        let g = try await K.start(restart: f, wait: false, hostArguments: HostArguments { _ in ["--imds", "http://127.0.0.1:9"] }, recoveryKeys: [recovery])
        try await Self.expectRefused(g, "credentialsUnavailable")
        #expect(g.host.log(containing: "awaiting recovery").isEmpty)
        let h = try await K.start(restart: g, recoveryKeys: [recovery])
        #expect(try await Self.deployment(h) == before)
        try await Self.stop(h)
    }
}
