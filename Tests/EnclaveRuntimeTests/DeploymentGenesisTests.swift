import AWSKMS
import AWSRequestSigning
import CBOR
import EmulatedKMS
import EnclaveWire
import Foundation
import HostRuntime
import Logging
import NitroAttestation
import SecureModule
import Synchronization
import CloisterTestSupport
import Testing

@testable import EnclaveRuntime

/// The emulated KMS, called in process through its real protocol (JSON 1.1, SigV4 with the emulated role's
/// credentials, CMS for the recipient): what the enclave, or a host whose role may call Encrypt, sends and receives.
/// `lie` makes every Decrypt answer a well-formed envelope of another secret, as a hostile KMS (or a host forging
/// KMS's answers) would.
struct InProcessKMS: KMSTransport {
    let server: EmulatedKMSServer
    var lie: [UInt8]? = nil
    /// Answers Encrypt as if another key (of another account) had been used: what KMS does when the credentials the
    /// host handed over resolve the key's name in an account of the host's.
    var otherKey: String? = nil

    func exchange(_ request: KMSHTTPRequest) async throws -> KMSHTTPResponse {
        let target = request.header("X-Amz-Target") ?? ""
        if let lie, target == "TrentService.Decrypt" {
            let asked = try JSONDecoder().decode(KMSDecryptRequest.self, from: Data(request.body))
            let document = try AttestationVerifier.parse(try #require(asked.recipient).attestationDocument).1
            let envelope = try EnvelopedDataBuilder.seal(lie, toRecipient: try #require(document.publicKey))
            return KMSHTTPResponse(status: 200, body: Array(try JSONEncoder().encode(KMSDecryptResponse(ciphertextForRecipient: envelope))))
        }
        let (status, body) = server.respond(target: target, headers: request.headers.map { SignableRequest.Header($0.name, $0.value) }, body: request.body)
        if let otherKey, target == "TrentService.Encrypt", status == 200 {
            var answer = try JSONDecoder().decode(KMSEncryptResponse.self, from: Data(body))
            answer.keyID = otherKey
            return KMSHTTPResponse(status: 200, body: Array(try JSONEncoder().encode(answer)))
        }
        return KMSHTTPResponse(status: status, body: body)
    }

    /// The enclave's provider over this transport.
    var provider: KMSSealingProvider {
        let role = server.role
        let client = try! KMSClient(
            host: "kms.us-east-1.amazonaws.com", region: "us-east-1",
            credentials: {
                let c = role.current()
                return try AWSCredentials(accessKeyID: c.accessKeyID, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken)
            }, transport: self)
        return KMSSealingProvider(keyID: "arn:aws:kms:us-east-1:000000000000:alias/genesis-tests", client: client)
    }
}

/// The master secret's genesis against a hostile host: each way of choosing, planting or swapping the master is
/// refused with its own code, and what is legitimate (later boots, authorised builds) keeps the same master.
@Suite struct DeploymentGenesisTests {
    static let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-genesis-\(UUID().uuidString)").path
    static let root = try! EmulatedRoot.loadOrCreate(directory: directory).root
    static let roots = TrustedRoots(certificates: [root.certificate])
    static let buildA = EnclaveImage(executable: Array("enclave build A".utf8), manifest: Array("{}".utf8))
    static let buildB = EnclaveImage(executable: Array("enclave build B".utf8), manifest: Array("{}".utf8))
    static let logger = Logger(label: "test")

    static func module(_ image: EnclaveImage = buildA, root: EmulatedRoot = root) throws -> any SecureModule {
        NSMClient(transport: try SoftwareNSM(root: root, image: image))
    }

    /// An emulated KMS whose key policy lets `builds` decrypt, with its own keys unless `keys` is given.
    static func kms(_ builds: [EnclaveImage] = [buildA, buildB], keys: EmulatedKeyStore? = nil, root: EmulatedRoot = root) throws -> EmulatedKMSServer {
        let role = EmulatedRole()
        let policy = try EmulatedKeyPolicy(json: Array(try KMSKeyPolicy(builds: builds.map(pins), role: role.arn, admin: "arn:aws:iam::000000000000:root").json()))
        let store = try keys ?? EmulatedKeyStore(path: directory + "/kms-\(UUID().uuidString).cbor")
        let kms = EmulatedKMS(region: "us-east-1", keys: store, policy: policy, roots: TrustedRoots(certificates: [root.certificate]))
        return try EmulatedKMSServer(kms: kms, role: role, root: root, names: ["kms.us-east-1.amazonaws.com"], logger: logger)
    }

    static func sealing(_ builds: [EnclaveImage] = [buildA, buildB], keys: EmulatedKeyStore? = nil, lie: [UInt8]? = nil) throws -> KMSSealingProvider {
        InProcessKMS(server: try kms(builds, keys: keys), lie: lie).provider
    }

    static func pins(_ image: EnclaveImage) -> [Int: [UInt8]] { [0: image.measurements[0]!, 1: image.measurements[1]!, 2: image.measurements[2]!] }

    /// One boot of `image` on `store`: its master and genesis, or the code that refused it.
    static func boot(
        _ store: MemoryStore, _ sealing: any SealingProvider, image: EnclaveImage = buildA, otherBuilds: [[Int: [UInt8]]] = [], root: EmulatedRoot = root
    ) async throws -> Result<(master: MasterSecret, genesis: [UInt8]), MasterError> {
        let module = try module(image, root: root)
        let policy = try await GenesisPolicy.forEnclave(module: module, roots: TrustedRoots(certificates: [root.certificate]), otherBuilds: otherBuilds, allowDebug: false)
        let recipient = SealingRecipient(module: module, manifestHash: SHA.sha256(image.manifest ?? []))
        do {
            return .success(try await DeploymentGenesis.load(store: store, sealing: sealing, recipient: recipient, policy: policy, logger: logger))
        } catch { return .failure(error) }
    }

    static func code(_ r: Result<(master: MasterSecret, genesis: [UInt8]), MasterError>) -> MasterError.Code? {
        if case .failure(let e) = r { return e.code }
        return nil
    }

    @Test func theFirstBootMakesTheMasterAndLaterBootsUnsealTheSameOne() async throws {
        let store = MemoryStore()
        let sealing = try Self.sealing()
        let first = try await Self.boot(store, sealing).get()
        let record = try #require(store.record)
        // The genesis binds the commitment to the blob, in a document of this build under the root.
        let verified = try AttestationVerifier(roots: Self.roots, cache: nil).verify(record.genesis!, at: .documentTimestamp)
        let claims = try GenesisClaims(encoded: try #require(verified.document.userData))
        #expect(claims.commitment == first.master.commitment)
        #expect(claims.sealedHash == SHA.sha256(record.sealed))
        #expect(claims.provider == "kms")
        #expect(verified.document.publicKey == nil)

        let second = try await Self.boot(store, sealing).get()
        #expect(second.master.commitment == first.master.commitment)
        #expect(second.master.secret == first.master.secret)
        #expect(second.genesis == record.genesis)
        // The master is never the module's random alone, and two deployments never share one.
        let other = try await Self.boot(MemoryStore(), sealing).get()
        #expect(other.master.commitment != first.master.commitment)
    }

    /// The manifest names its key by ARN; a seal under any other key (the host's credentials resolving the name in
    /// an account of its own, where it can decrypt) is refused before anything is stored.
    @Test func aSealUnderAKeyOtherThanTheManifestsIsRefused() async throws {
        let server = try Self.kms()
        for other in ["arn:aws:kms:us-east-1:999999999999:key/6b1c7a50-0000-4000-8000-000000000001", "arn:aws:kms:eu-west-1:000000000000:key/x", "key/x"] {
            let store = MemoryStore()
            let r = try await Self.boot(store, InProcessKMS(server: server, otherKey: other).provider)
            #expect(Self.code(r) == .sealingRefused, "\(other)")
            if case .failure(let e) = r { #expect(e.provider == "wrongKey") }
            #expect(store.record == nil)
        }
        #expect(KMSSealingProvider.isManifestKey("arn:aws:kms:us-east-1:111122223333:key/k", manifest: "arn:aws:kms:us-east-1:111122223333:key/k"))
        #expect(!KMSSealingProvider.isManifestKey("arn:aws:kms:us-east-1:111122223333:key/j", manifest: "arn:aws:kms:us-east-1:111122223333:key/k"))
        #expect(KMSSealingProvider.isManifestKey("arn:aws:kms:us-east-1:111122223333:key/j", manifest: "arn:aws:kms:us-east-1:111122223333:alias/m"))
    }

    @Test func aBlobWithoutItsGenesisIsRefused() async throws {
        let sealing = try Self.sealing()
        let store = MemoryStore()
        _ = try await Self.boot(store, sealing).get()
        store.record = DeploymentRecord(sealed: store.record!.sealed, genesis: nil)
        #expect(Self.code(try await Self.boot(store, sealing)) == .genesisMissing)

        // A blob the host sealed itself (as a role allowed to call Encrypt could), under an earlier layout's key.
        let planted = MemoryStore()
        _ = try await planted.put(DeploymentRecord.legacyStoreKey, value: try await sealing.seal(Random.bytes(32), context: DeploymentGenesis.context(commitment: try MasterSecret(Random.bytes(32)).commitment)), expectedVersion: 0)
        #expect(Self.code(try await Self.boot(planted, sealing)) == .genesisMissing)
    }

    @Test func aBlobTheHostSealedBesideTheRealGenesisIsRefused() async throws {
        let sealing = try Self.sealing()
        let store = MemoryStore()
        let real = try await Self.boot(store, sealing).get()
        // The host knows its own secret, so it could open every key made under it: the genesis names another blob.
        let mine = try await sealing.seal(Random.bytes(32), context: DeploymentGenesis.context(commitment: try MasterSecret(Random.bytes(32)).commitment))
        store.record = DeploymentRecord(sealed: mine, genesis: real.genesis)
        #expect(Self.code(try await Self.boot(store, sealing)) == .genesisBlobMismatch)
    }

    @Test func anUnsealAnsweredWithAnotherSecretIsRefused() async throws {
        let server = try Self.kms()
        let store = MemoryStore()
        _ = try await Self.boot(store, InProcessKMS(server: server).provider).get()
        // A forged answer in the right format (a CMS envelope to this enclave's recipient key) of another secret.
        #expect(Self.code(try await Self.boot(store, InProcessKMS(server: server, lie: Random.bytes(32)).provider)) == .masterCommitmentMismatch)
        let short = try await Self.boot(store, InProcessKMS(server: server, lie: Random.bytes(31)).provider)
        #expect(Self.code(short) == .sealingRefused)
        if case .failure(let e) = short { #expect(e.provider == "recipientEnvelopeInvalid") }
        // On the first boot too: a KMS that gives back another secret than it sealed is never trusted with the master.
        #expect(Self.code(try await Self.boot(MemoryStore(), InProcessKMS(server: server, lie: Random.bytes(32)).provider)) == .masterCommitmentMismatch)
    }

    @Test func anotherDeploymentsGenesisIsRefusedAndItsWholeRecordIsAnotherDeployment() async throws {
        let sealing = try Self.sealing()
        let ours = MemoryStore()
        let theirs = MemoryStore()
        let a = try await Self.boot(ours, sealing).get()
        let b = try await Self.boot(theirs, sealing).get()
        ours.record = DeploymentRecord(sealed: ours.record!.sealed, genesis: b.genesis)
        #expect(Self.code(try await Self.boot(ours, sealing)) == .genesisBlobMismatch)
        // Both parts of the other deployment: consistent, so the enclave takes it, under the other commitment, which
        // every client that knew ours refuses (deploymentChanged).
        ours.record = theirs.record
        let swapped = try await Self.boot(ours, sealing).get()
        #expect(swapped.master.commitment == b.master.commitment)
        #expect(swapped.master.commitment != a.master.commitment)
    }

    @Test func aGenesisOfAnUnauthorisedBuildOrUnderAnotherRootIsRefused() async throws {
        let sealing = try Self.sealing()
        let store = MemoryStore()
        let madeByB = try await Self.boot(store, sealing, image: Self.buildB).get()
        // Build A does not list B: B's genesis is refused, even though the sealing policy would release the master.
        #expect(Self.code(try await Self.boot(store, sealing, image: Self.buildA)) == .genesisUnauthorised)
        // Build A listing B (an upgrade's rollback, or B listed as the deployment's first build): same master.
        let listed = try await Self.boot(store, sealing, image: Self.buildA, otherBuilds: [Self.pins(Self.buildB)]).get()
        #expect(listed.master.commitment == madeByB.master.commitment)

        // A genesis under another root (a stranger's emulator), a genesis that is no document, and a document that is
        // not a genesis (the boot document of an identity).
        let strangerRoot = try EmulatedRoot.create(directory: Self.directory + "/stranger-\(UUID().uuidString)")
        let stranger = MemoryStore()
        let strangerSealing = InProcessKMS(server: try Self.kms([Self.buildA], root: strangerRoot)).provider
        _ = try await Self.boot(stranger, strangerSealing, root: strangerRoot).get()
        store.record = DeploymentRecord(sealed: store.record!.sealed, genesis: stranger.record!.genesis)
        #expect(Self.code(try await Self.boot(store, sealing, otherBuilds: [Self.pins(Self.buildB)])) == .genesisInvalid)
        store.record = DeploymentRecord(sealed: store.record!.sealed, genesis: [0xA0])
        #expect(Self.code(try await Self.boot(store, sealing)) == .genesisInvalid)
        let identity = try await EnclaveIdentity.create(module: try Self.module(), manifestBytes: [], deployment: madeByB.master.commitment)
        store.record = DeploymentRecord(sealed: store.record!.sealed, genesis: identity.bootDocument)
        #expect(Self.code(try await Self.boot(store, sealing)) == .genesisInvalid)

        store.blobs.withLock { $0[DeploymentRecord.storeKey] = (3, [0x01, 0x02]) }
        #expect(Self.code(try await Self.boot(store, sealing)) == .deploymentRecordInvalid)
    }

    @Test func aBuildTheSealingPolicyDoesNotAuthoriseGetsNoMaster() async throws {
        let store = MemoryStore()
        let keys = try EmulatedKeyStore(path: Self.directory + "/kms-\(UUID().uuidString).cbor")
        _ = try await Self.boot(store, try Self.sealing([Self.buildA, Self.buildB], keys: keys)).get()
        let r = try await Self.boot(store, try Self.sealing([Self.buildB], keys: keys), otherBuilds: [])
        guard case .failure(let e) = r else {
            Issue.record("an unauthorised build got the master")
            return
        }
        #expect(e.code == .sealingRefused)
        #expect(e.provider == "kms.accessDenied")
        // The refusal names the PCRs this enclave's document carried (what the key policy compared).
        #expect(e.message.contains("PCR0=\(Hex.encode(Self.buildA.measurements[0]!).lowercased())"))
    }

    /// A restore seals the same master under a new KMS key: the record keeps its genesis and gains a reseal
    /// document; later boots accept the new blob through it, and nothing else passes for one.
    @Test func aResealKeepsTheGenesisAndOnlyAnAuthorisedBuildsResealOfTheSameMasterCounts() async throws {
        let store = MemoryStore()
        let first = try await Self.boot(store, try Self.sealing()).get()
        let record = try #require(store.record)
        // The old KMS key is gone: a new emulated KMS (new keys) takes over.
        let newKMS = try Self.sealing()
        #expect(Self.code(try await Self.boot(store, newKMS)) == .sealingRefused)
        let module = try Self.module()
        let policy = try await GenesisPolicy.forEnclave(module: module, roots: Self.roots, otherBuilds: [], allowDebug: false)
        let recipient = SealingRecipient(module: module, manifestHash: SHA.sha256(Self.buildA.manifest ?? []))
        let version = try #require(store.blobs.withLock { $0[DeploymentRecord.storeKey]?.0 })

        // Another secret is refused before anything is sealed or stored.
        await #expect(throws: MasterError(.masterCommitmentMismatch, "")) {
            try await DeploymentGenesis.reseal(try MasterSecret(Random.bytes(32)), record: record, version: version, store: store, sealing: newKMS, recipient: recipient, policy: policy)
        }
        #expect(store.record == record)
        try await DeploymentGenesis.reseal(first.master, record: record, version: version, store: store, sealing: newKMS, recipient: recipient, policy: policy)
        let resealed = try #require(store.record)
        #expect(resealed.genesis == record.genesis)
        #expect(resealed.sealed != record.sealed)
        let again = try await Self.boot(store, newKMS).get()
        #expect(again.master.commitment == first.master.commitment)
        #expect(again.genesis == record.genesis)

        // A reseal document that names another blob, or the old genesis in its place: the blob is not accounted for.
        store.record = DeploymentRecord(sealed: resealed.sealed, genesis: record.genesis, reseal: record.genesis)
        #expect(Self.code(try await Self.boot(store, newKMS)) == .genesisBlobMismatch)
        // A reseal by a build this enclave does not authorise.
        let other = MemoryStore()
        _ = try await Self.boot(other, try Self.sealing(), image: Self.buildB).get()
        store.record = DeploymentRecord(sealed: resealed.sealed, genesis: record.genesis, reseal: other.record!.genesis)
        #expect(Self.code(try await Self.boot(store, newKMS)) == .genesisUnauthorised)
    }

    @Test func everyUseOfTheMasterHasItsOwnKey() throws {
        let master = try MasterSecret(Random.bytes(32))
        let keys = [
            master.derive("tenant-wrap", ["acme"]), master.derive("tenant-names", ["acme"]), master.derive("tenant-wrap", ["acme2"]),
            master.derive("tenant-wrap", ["acme", ""]), master.derive("deployment-key", []), master.commitment,
        ]
        #expect(Set(keys).count == keys.count)
        #expect(master.derive("tenant-wrap", ["acme"]) == master.derive("tenant-wrap", ["acme"]))
        #expect(!keys.contains(master.secret))
        #expect(throws: MasterError(.masterCommitmentMismatch, "")) { try MasterSecret(Random.bytes(16)) }
    }
}
