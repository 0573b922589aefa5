import CBOR
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

/// The emulated sealing service, called in process through its real protocol: what any caller of the service
/// (the enclave, or a host with a role that may seal) sends and receives. `lie` makes it answer every unseal with
/// another secret, as a hostile service would.
struct InProcessSealing: SealingProvider {
    let service: EmulatedSealingService
    var lie: [UInt8]? = nil
    let name = "emulated"

    func seal(_ secret: [UInt8], context: [UInt8]) async throws -> [UInt8] {
        let (enc, ct) = try HPKEX25519.seal(to: service.certifiedKey.key, info: SealingMessage.sealInfo, aad: context, plaintext: secret)
        return try service.seal(context: context, enc: enc, ciphertext: ct)
    }

    func unseal(_ sealed: [UInt8], recipient: SealingRecipient) async throws -> [UInt8] {
        let (document, key) = try await recipient.attest(nonce: [7])
        if let lie {
            let claims = try IdentityClaims(encoded: try AttestationVerifier.parse(document).1.userData!)
            let (enc, ct) = try HPKEX25519.seal(to: claims.hpkePublicKey, info: SealingMessage.releaseInfo, aad: SHA.sha256(document), plaintext: lie)
            return try SealingRecipient.open(ct, enc: enc, key: key, document: document)
        }
        do {
            let (enc, ct) = try service.unseal(document: document, sealed: sealed)
            return try SealingRecipient.open(ct, enc: enc, key: key, document: document)
        } catch let refusal as EmulatedSealingService.Refusal {
            throw SealingRefusal(code: refusal.code, reason: refusal.reason)
        }
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

    static func service(_ builds: [EnclaveImage] = [buildA, buildB]) throws -> EmulatedSealingService {
        let policy = builds.map { b in [0: b.measurements[0]!, 1: b.measurements[1]!, 2: b.measurements[2]!] }
        return try EmulatedSealingService(keyPath: directory + "/sealing-\(UUID().uuidString).key", root: root, policy: policy)
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
        let sealing = InProcessSealing(service: try Self.service())
        let first = try await Self.boot(store, sealing).get()
        let record = try #require(store.record)
        // The genesis binds the commitment to the blob, in a document of this build under the root.
        let verified = try AttestationVerifier(roots: Self.roots, cache: nil).verify(record.genesis!, at: .documentTimestamp)
        let claims = try GenesisClaims(encoded: try #require(verified.document.userData))
        #expect(claims.commitment == first.master.commitment)
        #expect(claims.sealedHash == SHA.sha256(record.sealed))
        #expect(claims.provider == "emulated")
        #expect(verified.document.publicKey == nil)

        let second = try await Self.boot(store, sealing).get()
        #expect(second.master.commitment == first.master.commitment)
        #expect(second.master.secret == first.master.secret)
        #expect(second.genesis == record.genesis)
        // The master is never the module's random alone, and two deployments never share one.
        let other = try await Self.boot(MemoryStore(), sealing).get()
        #expect(other.master.commitment != first.master.commitment)
    }

    @Test func aBlobWithoutItsGenesisIsRefused() async throws {
        let sealing = InProcessSealing(service: try Self.service())
        let store = MemoryStore()
        _ = try await Self.boot(store, sealing).get()
        store.record = DeploymentRecord(sealed: store.record!.sealed, genesis: nil)
        #expect(Self.code(try await Self.boot(store, sealing)) == .genesisMissing)

        // A blob the host sealed itself (as a role allowed to call Encrypt could), under an earlier layout's key.
        let planted = MemoryStore()
        _ = try await planted.put(DeploymentRecord.legacyStoreKey, value: try await sealing.seal(Random.bytes(32), context: DeploymentGenesis.context), expectedVersion: 0)
        #expect(Self.code(try await Self.boot(planted, sealing)) == .genesisMissing)
    }

    @Test func aBlobTheHostSealedBesideTheRealGenesisIsRefused() async throws {
        let sealing = InProcessSealing(service: try Self.service())
        let store = MemoryStore()
        let real = try await Self.boot(store, sealing).get()
        // The host knows its own secret, so it could open every key made under it: the genesis names another blob.
        let mine = try await sealing.seal(Random.bytes(32), context: DeploymentGenesis.context)
        store.record = DeploymentRecord(sealed: mine, genesis: real.genesis)
        #expect(Self.code(try await Self.boot(store, sealing)) == .genesisBlobMismatch)
    }

    @Test func anUnsealAnsweredWithAnotherSecretIsRefused() async throws {
        let service = try Self.service()
        let store = MemoryStore()
        _ = try await Self.boot(store, InProcessSealing(service: service)).get()
        #expect(Self.code(try await Self.boot(store, InProcessSealing(service: service, lie: Random.bytes(32)))) == .masterCommitmentMismatch)
        #expect(Self.code(try await Self.boot(store, InProcessSealing(service: service, lie: Random.bytes(31)))) == .masterCommitmentMismatch)
        // On the first boot too: a service that gives back another secret than it sealed is never trusted with the master.
        #expect(Self.code(try await Self.boot(MemoryStore(), InProcessSealing(service: service, lie: Random.bytes(32)))) == .masterCommitmentMismatch)
    }

    @Test func anotherDeploymentsGenesisIsRefusedAndItsWholeRecordIsAnotherDeployment() async throws {
        let sealing = InProcessSealing(service: try Self.service())
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
        let sealing = InProcessSealing(service: try Self.service())
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
        let strangerSealing = InProcessSealing(
            service: try EmulatedSealingService(keyPath: Self.directory + "/stranger-\(UUID().uuidString).key", root: strangerRoot, policy: [Self.pins(Self.buildA)]))
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
        _ = try await Self.boot(store, InProcessSealing(service: try Self.service([Self.buildA, Self.buildB]))).get()
        let r = try await Self.boot(store, InProcessSealing(service: try Self.service([Self.buildB])), otherBuilds: [])
        guard case .failure(let e) = r else {
            Issue.record("an unauthorised build got the master")
            return
        }
        #expect(e.code == .sealingRefused)
        #expect(e.provider == "pcrPolicyMismatch")
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
