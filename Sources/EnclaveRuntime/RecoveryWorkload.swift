import CBOR
import EnclaveWire
import Foundation
import Logging
import NitroAttestation
import SecureModule

/// What an enclave serves when it cannot unseal its deployment's master (the KMS key was deleted, the account
/// lost) and the manifest names recovery keys: one operation, `recovery.restore`. Its body is the master sealed
/// by the holder of a recovery key to this boot's HPKE key (`RecoveryRecord.restoreInfo`, the boot hash as
/// associated data), so that the host carries only ciphertext. The master must be the one the deployment's
/// genesis commits to; it is then sealed under the manifest's KMS key, with a reseal document, and the enclave
/// stops so that its next boot unseals it the ordinary way. The commitment, genesis and keys stay the same.
public struct RecoveryWorkload: JobWorkload {
    public let name = "recovery"
    let identity: EnclaveIdentity
    let record: DeploymentRecord
    let version: UInt64
    let sealing: any SealingProvider
    let recipient: SealingRecipient
    let policy: GenesisPolicy
    let logger: Logger
    let onRestored: @Sendable () -> Void

    public init(
        identity: EnclaveIdentity, record: DeploymentRecord, version: UInt64, sealing: any SealingProvider, recipient: SealingRecipient, policy: GenesisPolicy,
        logger: Logger, onRestored: @escaping @Sendable () -> Void
    ) {
        self.identity = identity
        self.record = record
        self.version = version
        self.sealing = sealing
        self.recipient = recipient
        self.policy = policy
        self.logger = logger
        self.onRestored = onRestored
    }

    public func perform(_ job: PreparedJob, store: BlobStore) async -> JobOutcome {
        guard job.request.operation == "recovery.restore" else {
            return .failure("awaitingRecovery", "this enclave cannot unseal its master secret and serves only recovery.restore")
        }
        guard let (enc, ct) = RecoveryRecord.restoreBody(job.request.body) else {
            return .failure("badRequest", "recovery.restore wants CBOR {enc: 32 bytes, ct: 48 bytes}")
        }
        let master: MasterSecret
        do {
            let secret = try HPKEX25519.open(ct, enc: enc, with: identity.hpkeKey, info: RecoveryRecord.restoreInfo, aad: identity.bootHash)
            master = try MasterSecret(secret)
        } catch {
            return .failure("sealedRequestInvalid", "the master was not sealed to this boot's key")
        }
        do {
            try await DeploymentGenesis.reseal(master, record: record, version: version, store: store, sealing: sealing, recipient: recipient, policy: policy)
        } catch {
            logger.error("recovery refused", metadata: ["code": "\(error.code.rawValue)", "error": "\(error)"])
            return .failure(error.code.rawValue, error.message)
        }
        logger.notice("master secret restored from a recovery key and sealed anew; restarting", metadata: ["deployment": "\(Hex.encode(master.commitment))"])
        onRestored()
        return .ok(Array((try? JSONEncoder().encode(Restored(restored: true, deployment: Hex.encode(master.commitment)))) ?? Data()))
    }

    /// The result of a restore.
    struct Restored: Codable {
        var restored: Bool
        var deployment: String
    }
}
