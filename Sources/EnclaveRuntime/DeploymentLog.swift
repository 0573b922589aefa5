import EnclaveWire
import NitroAttestation
import SecureModule
import TransparencyLog

/// The deployment's one receipt log, across boots and builds: an RFC 9162 Merkle log whose leaves are the
/// receipts (`TreeHash.leaf` of their encoded bytes) and whose heads are C2SP checkpoints of origin
/// `cloister/<commitment hex>`, signed by the deployment key under that name. Its state (the compact range and the
/// newest checkpoint) lives in the host's store as a `LogHeadRecord`, replaced by compare-and-swap after each batch,
/// before the batch's results leave the enclave. A value: the queue worker owns the one in use.
public struct DeploymentLog: Sendable {
    /// The log of a batch once it is stored: the new state, its signed head, and each receipt's index and proof.
    struct Appended: Sendable {
        var log: DeploymentLog
        var head: [UInt8]
        var first: UInt64
        var proofs: [[[UInt8]]]
    }

    let origin: String
    let signer: NoteSigner
    private(set) var range: CompactRange
    /// The newest signed checkpoint (nil for the empty log, which has none).
    private(set) var head: [UInt8]?
    /// The store version of the record this state was read from or written as (0: none yet).
    private(set) var version: UInt64
    /// The root of the workloads' records the newest head committed to (its `cloister-state` line; nil for the
    /// empty log, or a head of a build before state roots).
    private(set) var stateRoot: [UInt8]?
    /// The workloads' records, whose root each new head commits to (nil: heads carry no state root).
    var state: TrackedStore?

    /// The extension line that carries a head's state root: `cloister-state <base64 of 32 bytes>`.
    static let statePrefix = "cloister-state "

    /// The state root a checkpoint carries; a malformed or repeated `cloister-state` line is refused.
    static func stateRoot(of checkpoint: Checkpoint) throws(DeploymentLogError) -> [UInt8]? {
        let lines = checkpoint.extensions.filter { $0.hasPrefix(statePrefix) }
        guard lines.count <= 1 else { throw DeploymentLogError(.logHeadInvalid, "a head with two state roots") }
        guard let line = lines.first else { return nil }
        guard let root = Base64.decode(String(line.dropFirst(statePrefix.count))), root.count == 32 else {
            throw DeploymentLogError(.logHeadInvalid, "a head's state root is not 32 bytes of base64")
        }
        return root
    }

    /// The origin of the log of the deployment whose commitment is `commitment`.
    static func origin(commitment: [UInt8]) -> String { "cloister/" + Hex.encode(commitment).lowercased() }

    /// The verifier of this deployment's heads: the commitment as an Ed25519 note key named by the origin.
    static func verifier(commitment: [UInt8]) throws(TransparencyLogError) -> CheckpointVerifier {
        let origin = origin(commitment: commitment)
        return try CheckpointVerifier(origin: origin, logKey: NoteVerifierKey(name: origin, type: .ed25519, publicKey: commitment))
    }

    init(master: MasterSecret, range: CompactRange = CompactRange(), head: [UInt8]? = nil, version: UInt64 = 0) throws(DeploymentLogError) {
        origin = Self.origin(commitment: master.commitment)
        do { signer = try NoteSigner(name: origin, key: master.deploymentKey) } catch {
            throw DeploymentLogError(.signingFailed, "the deployment key cannot sign notes", underlying: error)
        }
        self.range = range
        self.head = head
        self.version = version
    }

    /// The log as the store holds it, checked: absent is the empty log; anything but this deployment's valid head
    /// (a checkpoint the deployment key signed, of this deployment's origin, whose size and root are the stored
    /// range's) is `logHeadInvalid`.
    static func load(store: any BlobStore, master: MasterSecret) async throws(DeploymentLogError) -> DeploymentLog {
        let stored: (version: UInt64, value: [UInt8])?
        do { stored = try await store.get(LogHeadRecord.storeKey) } catch { throw DeploymentLogError(.storeUnavailable, "\(error)", underlying: error) }
        guard let stored else { return try DeploymentLog(master: master) }
        return try check(stored.value, version: stored.version, master: master)
    }

    /// The log state in record `bytes`, if it is this deployment's valid head.
    static func check(_ bytes: [UInt8], version: UInt64, master: MasterSecret) throws(DeploymentLogError) -> DeploymentLog {
        let record: LogHeadRecord
        do { record = try LogHeadRecord(encoded: bytes) } catch { throw DeploymentLogError(.logHeadInvalid, "the stored log head: \(error)", underlying: error) }
        let checkpoint: Checkpoint
        do { checkpoint = try verifier(commitment: master.commitment).verify(record.checkpoint).checkpoint } catch {
            throw DeploymentLogError(.logHeadInvalid, "the stored checkpoint is not this deployment's: \(error)", underlying: error)
        }
        let range: CompactRange
        do { range = try CompactRange(size: record.size, hashes: record.hashes) } catch {
            throw DeploymentLogError(.logHeadInvalid, "the stored compact range: \(error)", underlying: error)
        }
        guard range.size == checkpoint.size, range.root == checkpoint.rootHash else {
            throw DeploymentLogError(
                .logHeadInvalid, "the stored range (\(range.size) leaves) is not the tree its checkpoint signs (\(checkpoint.size) leaves)")
        }
        var log = try DeploymentLog(master: master, range: range, head: record.checkpoint, version: version)
        log.stateRoot = try stateRoot(of: checkpoint)
        return log
    }

    /// The log with `leafHashes` appended and its new head signed, not yet stored; the head commits to `stateRoot`
    /// when there is one.
    func appending(_ leafHashes: [[UInt8]], stateRoot: [UInt8]? = nil) throws(DeploymentLogError) -> Appended {
        do {
            let (root, proofs) = try range.inclusionProofs(appending: leafHashes)
            var next = range
            for leaf in leafHashes { try next.append(leaf) }
            precondition(next.root == root, "the appended range and its proofs disagree")
            let text = try Checkpoint(
                origin: origin, size: next.size, rootHash: root, extensions: stateRoot.map { [Self.statePrefix + Base64.encode($0)] } ?? []
            ).text
            let note = try NoteSigner.sign(text: text, by: [signer]).encoded
            var log = self
            log.range = next
            log.head = note
            log.stateRoot = stateRoot
            return Appended(log: log, head: note, first: range.size, proofs: proofs)
        } catch {
            throw DeploymentLogError(.signingFailed, "\(error)", underlying: error)
        }
    }

    /// Stores `appended` in place of this state (compare-and-swap on the version this state came with) and returns
    /// the stored log. `logHeadChanged` when the record changed meanwhile (an answer lost after it was written, or
    /// another enclave of the deployment): the caller reloads it, checked as at boot.
    /// The batch's signed receipts go with the head when the record still fits a blob (else they reach the host only
    /// with the results).
    func store(_ appended: Appended, batch: [[UInt8]] = [], in store: any BlobStore) async throws(DeploymentLogError) -> DeploymentLog {
        var record = LogHeadRecord(size: appended.log.range.size, hashes: appended.log.range.hashes, checkpoint: appended.head, batch: batch)
        if record.encoded.count > LogHeadRecord.maxBytes { record.batch = [] }
        let put: (stored: Bool, version: UInt64)
        do { put = try await store.put(LogHeadRecord.storeKey, value: record.encoded, expectedVersion: version) } catch {
            throw DeploymentLogError(.storeUnavailable, "\(error)", underlying: error)
        }
        guard put.stored else { throw DeploymentLogError(.logHeadChanged, "the stored log head is no longer version \(version)") }
        var log = appended.log
        log.version = put.version
        return log
    }
}
