import EnclaveWire
import Logging
import NitroAttestation
import SecureModule

/// Which genesis documents this enclave accepts: documents that verify against `roots` and come from an
/// authorised build (this enclave's own PCR0, PCR1 and PCR2, or any pin set of the manifest's `builds`).
public struct GenesisPolicy: Sendable {
    public var roots: TrustedRoots
    /// Authorised builds: each a set of PCR pins that must all match.
    public var builds: [[Int: [UInt8]]]
    public var allowDebug: Bool

    public init(roots: TrustedRoots, builds: [[Int: [UInt8]]], allowDebug: Bool) {
        self.roots = roots
        self.builds = builds
        self.allowDebug = allowDebug
    }

    /// The policy of the enclave behind `module`: its own build (read from a document of its own, verified against
    /// `roots`, which also checks that the roots are right for this module) and `otherBuilds`.
    public static func forEnclave(module: any SecureModule, roots: TrustedRoots, otherBuilds: [[Int: [UInt8]]], allowDebug: Bool) async throws -> GenesisPolicy {
        let own = try AttestationVerifier(roots: roots, cache: nil).verify(try await module.attestation(userData: nil, nonce: nil, publicKey: nil))
        let pins = Dictionary(uniqueKeysWithValues: [0, 1, 2].compactMap { i in own.document.pcrs[i].map { (i, $0) } })
        return GenesisPolicy(roots: roots, builds: [pins] + otherBuilds, allowDebug: allowDebug)
    }

    /// The genesis claims of `document`, if it is a genesis this policy accepts.
    public func check(_ document: [UInt8]) throws(MasterError) -> GenesisClaims {
        let verified: VerifiedAttestation
        do {
            verified = try AttestationVerifier(roots: roots, cache: nil).verify(document, at: .documentTimestamp, policy: AttestationPolicy(allowDebug: allowDebug))
        } catch {
            throw MasterError(.genesisInvalid, "the genesis document does not verify: \(error)")
        }
        let pcrs = verified.document.pcrs
        guard builds.contains(where: { build in !build.isEmpty && build.allSatisfy { pcrs[$0.key] == $0.value } }) else {
            let seen = [0, 1, 2, 8].compactMap { i in pcrs[i].map { "PCR\(i) \(Hex.encode($0).prefix(16))…" } }.joined(separator: ", ")
            throw MasterError(.genesisUnauthorised, "the genesis was made by a build this enclave does not authorise (\(seen))")
        }
        guard let userData = verified.document.userData else { throw MasterError(.genesisInvalid, "the genesis document has no user_data") }
        do { return try GenesisClaims(encoded: userData) } catch { throw MasterError(.genesisInvalid, "the genesis document's user_data: \(error)") }
    }
}

/// How an enclave comes to hold its deployment's master secret. On the first boot of a deployment (the host's store
/// holds no deployment record) it makes the master inside, has it sealed, checks that the blob unseals to it, takes
/// the genesis document binding the commitment to the blob's hash, and stores both in one record. On every later
/// boot it accepts the record only if the genesis verifies, comes from an authorised build, names this blob, and
/// the blob unseals to the master the genesis commits to. Anything else is refused with its own code.
///
/// A host that hides the record makes a new deployment start: that reveals no key, and every client that knew the
/// old deployment's commitment refuses the new one.
public enum DeploymentGenesis {
    /// The sealing context (KMS's encryption context) of the master whose commitment is `commitment`: it names the
    /// deployment, so a blob is bound to it in KMS's own records (CloudTrail shows it with every Decrypt).
    public static func context(commitment: [UInt8]) -> [String: String] {
        ["cloister:purpose": "master/1", "cloister:deployment": Hex.encode(commitment).lowercased()]
    }

    public static func load(
        store: any BlobStore, sealing: any SealingProvider, recipient: SealingRecipient, policy: GenesisPolicy, logger: Logger
    ) async throws(MasterError) -> (master: MasterSecret, genesis: [UInt8]) {
        for _ in 0..<5 {
            if let (_, bytes) = try await get(store, DeploymentRecord.storeKey) {
                let record: DeploymentRecord
                do { record = try DeploymentRecord(encoded: bytes) } catch { throw MasterError(.deploymentRecordInvalid, "\(error)") }
                let master = try await open(record, sealing: sealing, recipient: recipient, policy: policy)
                logger.info("master secret unsealed; its genesis verified", metadata: ["deployment": "\(Hex.encode(master.commitment))"])
                return (master, record.genesis!)
            }
            if try await get(store, DeploymentRecord.legacyStoreKey) != nil {
                throw MasterError(.genesisMissing, "the store holds a sealed master (\(DeploymentRecord.legacyStoreKey)) with no genesis")
            }
            let (master, record) = try await create(sealing: sealing, recipient: recipient)
            let stored: Bool
            do { stored = try await store.put(DeploymentRecord.storeKey, value: record.encoded, expectedVersion: 0).stored } catch {
                throw MasterError(.storeUnavailable, "\(error)")
            }
            if stored {
                logger.notice("first boot of a new deployment: a master secret was made here, sealed, and its genesis recorded", metadata: ["deployment": "\(Hex.encode(master.commitment))"])
                return (master, record.genesis!)
            }
            // Another boot won the race for the first boot: use its record.
        }
        throw MasterError(.storeUnavailable, "the deployment record kept changing")
    }

    /// Checks a stored record and unseals its master.
    static func open(_ record: DeploymentRecord, sealing: any SealingProvider, recipient: SealingRecipient, policy: GenesisPolicy) async throws(MasterError) -> MasterSecret {
        guard let genesis = record.genesis else { throw MasterError(.genesisMissing, "the store holds a sealed master with no genesis document") }
        let claims = try policy.check(genesis)
        try checkBlob(record, claims: claims, policy: policy)
        let secret: [UInt8]
        do { secret = try await sealing.unseal(record.sealed, context: context(commitment: claims.commitment), recipient: recipient) } catch let refusal as SealingRefusal {
            throw MasterError(.sealingRefused, refusal.reason, provider: refusal.code)
        } catch {
            throw MasterError(.sealingRefused, "\(error)", provider: "unavailable")
        }
        guard secret.count == MasterSecret.length, let master = try? MasterSecret(secret), master.commitment == claims.commitment else {
            throw MasterError(.masterCommitmentMismatch, "the unsealed secret is not the master this deployment's genesis commits to")
        }
        return master
    }

    /// The blob is the genesis's own, or one an authorised enclave sealed again after a recovery (its `reseal`
    /// document binds the same commitment to this blob).
    static func checkBlob(_ record: DeploymentRecord, claims: GenesisClaims, policy: GenesisPolicy) throws(MasterError) {
        let hash = SHA.sha256(record.sealed)
        if claims.sealedHash == hash { return }
        guard let reseal = record.reseal else {
            throw MasterError(.genesisBlobMismatch, "the sealed blob is not the one the genesis names (made by someone else, or another deployment's)")
        }
        let resealed = try policy.check(reseal)
        guard resealed.commitment == claims.commitment, resealed.sealedHash == hash else {
            throw MasterError(.genesisBlobMismatch, "the sealed blob is neither the genesis's nor the one its reseal document names")
        }
    }

    /// Seals `master` (just restored from a recovery key) anew and stores it under the deployment's existing genesis,
    /// with a reseal document binding the same commitment to the new blob. `master` must be the one the genesis
    /// commits to; the record must be the one at `version` (compare-and-swap).
    public static func reseal(
        _ master: MasterSecret, record: DeploymentRecord, version: UInt64, store: any BlobStore, sealing: any SealingProvider, recipient: SealingRecipient,
        policy: GenesisPolicy
    ) async throws(MasterError) {
        guard let genesis = record.genesis else { throw MasterError(.genesisMissing, "the store holds no genesis to restore under") }
        let claims = try policy.check(genesis)
        guard master.commitment == claims.commitment else {
            throw MasterError(.masterCommitmentMismatch, "the restored secret is not the master this deployment's genesis commits to")
        }
        let (sealed, document) = try await sealAndAttest(master, sealing: sealing, recipient: recipient)
        let stored: Bool
        do {
            stored = try await store.put(DeploymentRecord.storeKey, value: DeploymentRecord(sealed: sealed, genesis: genesis, reseal: document).encoded, expectedVersion: version).stored
        } catch { throw MasterError(.storeUnavailable, "\(error)") }
        guard stored else { throw MasterError(.storeUnavailable, "the deployment record changed during the restore") }
    }

    /// Keeps the master sealed to each of `keys` (the manifest's recovery keys) in the host's store, rewriting the
    /// recovery record when it is missing or names other keys.
    public static func keepRecovery(_ master: MasterSecret, keys: [[UInt8]], store: any BlobStore, logger: Logger) async {
        guard !keys.isEmpty else { return }
        do {
            let existing = try await store.get(RecoveryRecord.storeKey)
            // Kept only if this deployment's key signed it (the host could write right-looking, useless entries).
            if let (_, bytes) = existing, let record = try? RecoveryRecord(encoded: bytes), record.commitment == master.commitment,
                record.entries.map(\.key) == keys, Ed25519Key.verify(record.signature, of: record.signedBytes, publicKey: master.commitment)
            {
                return
            }
            var entries: [RecoveryRecord.Entry] = []
            for key in keys {
                let (enc, ct) = try HPKEX25519.seal(to: key, info: RecoveryRecord.info, aad: master.commitment, plaintext: master.secret)
                entries.append(RecoveryRecord.Entry(key: key, enc: enc, ciphertext: ct))
            }
            let signature = try master.deploymentKey.sign(RecoveryRecord.signedBytes(commitment: master.commitment, entries: entries))
            let value = RecoveryRecord(commitment: master.commitment, entries: entries, signature: signature).encoded
            _ = try await store.put(RecoveryRecord.storeKey, value: value, expectedVersion: existing?.0 ?? 0)
            logger.notice("the master secret is sealed to the manifest's recovery keys", metadata: ["keys": "\(keys.count)"])
        } catch {
            logger.error("cannot keep the master sealed to the recovery keys", metadata: ["error": "\(error)"])
        }
    }

    /// The deployment record and its verified genesis claims, for a restore: what an enclave that cannot unseal
    /// the master (its KMS key is gone) checks a recovered master against.
    public static func recoverable(store: any BlobStore, policy: GenesisPolicy) async throws(MasterError) -> (record: DeploymentRecord, version: UInt64, claims: GenesisClaims) {
        guard let (version, bytes) = try await get(store, DeploymentRecord.storeKey) else {
            throw MasterError(.genesisMissing, "the store holds no deployment record")
        }
        let record: DeploymentRecord
        do { record = try DeploymentRecord(encoded: bytes) } catch { throw MasterError(.deploymentRecordInvalid, "\(error)") }
        guard let genesis = record.genesis else { throw MasterError(.genesisMissing, "the store holds a sealed master with no genesis document") }
        return (record, version, try policy.check(genesis))
    }

    /// A new master, sealed, with its genesis.
    static func create(sealing: any SealingProvider, recipient: SealingRecipient) async throws(MasterError) -> (MasterSecret, DeploymentRecord) {
        let master = try await MasterSecret.generate(module: recipient.module)
        let (sealed, genesis) = try await sealAndAttest(master, sealing: sealing, recipient: recipient)
        return (master, DeploymentRecord(sealed: sealed, genesis: genesis))
    }

    /// `master` sealed, checked to unseal to itself, and a document of this enclave with genesis claims binding
    /// its commitment to the blob (the genesis on a first boot, the reseal document after a restore).
    static func sealAndAttest(_ master: MasterSecret, sealing: any SealingProvider, recipient: SealingRecipient) async throws(MasterError) -> (sealed: [UInt8], document: [UInt8]) {
        let sealed: [UInt8]
        do {
            sealed = try await sealing.seal(master.secret, context: context(commitment: master.commitment))
            // Keep only a blob that gives this secret back: otherwise every key would be sealed under a master no
            // later boot could recover.
            guard try await sealing.unseal(sealed, context: context(commitment: master.commitment), recipient: recipient) == master.secret else {
                throw MasterError(.masterCommitmentMismatch, "the master's new sealed blob does not unseal to it")
            }
        } catch let error as MasterError {
            throw error
        } catch let refusal as SealingRefusal {
            throw MasterError(.sealingRefused, refusal.reason, provider: refusal.code)
        } catch {
            throw MasterError(.sealingRefused, "\(error)", provider: "unavailable")
        }
        let claims = GenesisClaims(commitment: master.commitment, sealedHash: SHA.sha256(sealed), provider: sealing.name)
        do { return (sealed, try await recipient.module.attestation(userData: claims.encoded, nonce: nil, publicKey: nil)) } catch {
            throw MasterError(.internalError, "the genesis attestation failed: \(error)")
        }
    }

    static func get(_ store: any BlobStore, _ key: String) async throws(MasterError) -> (UInt64, [UInt8])? {
        do { return try await store.get(key) } catch { throw MasterError(.storeUnavailable, "\(error)") }
    }
}
