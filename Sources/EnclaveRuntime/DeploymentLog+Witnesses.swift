import EnclaveWire
import Logging
import NitroAttestation
import SecureModule
import TransparencyLog
import VsockBridge

extension DeploymentLog {
    /// What the pinned witnesses said of the head this log was loaded from.
    struct WitnessCount: Sendable, Equatable {
        /// Witnesses whose fresh cosignature is on exactly this head.
        var cosigned: [String] = []
        /// Witnesses whose newest cosignature is on an older head, or is too old to count.
        var behind: [String] = []
    }

    /// Reads the newest cosigned head of each pinned witness from the store (`witness/<name>`, where the host keeps
    /// what the witnesses post) and counts those that cosigned this very head at most `freshSeconds` ago by
    /// `now` (seconds since 1970). A witness that cosigned a larger head is proof that the store was rolled back
    /// (`storeRolledBack`); one that cosigned another head of this size, of a fork (`logForked`). The host can
    /// withhold a cosignature, or serve an old one (which does not count once it is older than `freshSeconds`),
    /// but cannot make one.
    func countWitnesses(_ log: DeploymentManifest.Log, store: any BlobStore, now: UInt64) async throws(DeploymentLogError) -> WitnessCount {
        var count = WitnessCount()
        let logKey = signer.verifierKey
        for witness in log.witnesses {
            let stored: (version: UInt64, value: [UInt8])?
            do { stored = try await store.get(DeploymentManifest.Log.storeKey(witness: witness)) } catch {
                throw DeploymentLogError(.storeUnavailable, "\(error)", underlying: error)
            }
            guard let stored else {
                count.behind.append(witness.name)
                continue
            }
            let verified: CheckpointVerifier.Verified
            do {
                verified = try CheckpointVerifier(origin: origin, logKey: logKey, witnesses: [witness], requiredCosignatures: 1).verify(stored.value)
            } catch {
                // Not a cosignature of this deployment's head by this witness: the host's, which proves nothing.
                count.behind.append(witness.name)
                continue
            }
            let checkpoint = verified.checkpoint
            let time = verified.cosignatures.first?.timestamp ?? 0
            if checkpoint.size > range.size {
                throw DeploymentLogError(
                    .storeRolledBack,
                    "witness \(witness.name) cosigned a head of \(checkpoint.size) receipts at \(time); the store's head has \(range.size): the store is an old copy")
            }
            if checkpoint.size == range.size, checkpoint.rootHash != range.root {
                throw DeploymentLogError(.logForked, "witness \(witness.name) cosigned another head of \(range.size) receipts")
            }
            if checkpoint.size == range.size, time + UInt64(log.freshSeconds) >= now, time <= now + 60 {
                count.cosigned.append(witness.name)
            } else {
                count.behind.append(witness.name)
            }
        }
        return count
    }

    /// Waits until `quorum` pinned witnesses have freshly cosigned this head; throws at once if one of them proves a
    /// rollback or a fork. The empty log needs no cosignature (nobody can prove that a log is empty); a manifest
    /// without a quorum only warns.
    func awaitWitnesses(_ log: DeploymentManifest.Log, store: any BlobStore, logger: Logger) async throws(DeploymentLogError) {
        guard log.quorum > 0 else {
            logger.warning(
                "no witness quorum (manifest log.quorum is 0): a host that restores an old copy of the whole store, its log head included, is not detected at boot; clients that saw a newer head detect it")
            return
        }
        guard range.size > 0 else {
            logger.notice("the deployment log is empty: no witness cosignature is required to start it")
            return
        }
        var waited = 0
        while true {
            let count = try await countWitnesses(log, store: store, now: UInt64(WallClock.milliseconds() / 1000))
            if count.cosigned.count >= log.quorum {
                logger.info(
                    "log head cosigned by the witness quorum",
                    metadata: ["size": "\(range.size)", "cosigned": "\(count.cosigned.joined(separator: ","))", "quorum": "\(log.quorum)"])
                return
            }
            if waited % 10 == 0 {
                logger.notice(
                    "waiting for the witnesses to cosign the stored log head; serving nothing until then",
                    metadata: [
                        "size": "\(range.size)", "cosigned": "\(count.cosigned.count)", "quorum": "\(log.quorum)",
                        "behind": "\(count.behind.joined(separator: ","))",
                    ])
            }
            waited += 1
            do { try await Task.sleep(for: .seconds(1)) } catch { throw DeploymentLogError(.storeUnavailable, "stopped while waiting for witnesses") }
        }
    }
}
