import CloisterClient
import Foundation
import NitroAttestation
import Synchronization
import TransparencyLog

/// A witness of one deployment's log. Each round it fetches the host's head, checks that the deployment signed it
/// and that it extends the newest head this witness cosigned (a consistency proof from the host for a larger
/// one), and only then cosigns it (with the time now), saves it as its state, serves it and hands it to the host.
/// A smaller head is refused as `logRolledBack`, an inconsistent one as `logForked`, each with an evidence file.
/// It must run where the deployment's operator has no control (another account, another party): a witness the
/// host's owner runs proves nothing.
public final class Witness: Sendable {
    /// What a witness needs.
    public struct Configuration: Sendable {
        /// The deployment's commitment (its log key).
        public var deployment: [UInt8]
        public var key: WitnessKey
        /// The state file.
        public var statePath: String
        /// Where evidence files go (nil: refusals are only reported).
        public var evidenceDirectory: String?
        /// The time cosignatures state, in seconds since 1970.
        public var now: @Sendable () -> UInt64 = { UInt64(max(0, Date().timeIntervalSince1970)) }

        public init(deployment: [UInt8], key: WitnessKey, statePath: String, evidenceDirectory: String? = nil) {
            self.deployment = deployment
            self.key = key
            self.statePath = statePath
            self.evidenceDirectory = evidenceDirectory
        }
    }

    /// What an accepted round did.
    public struct Round: Sendable {
        /// The head, with this witness's fresh cosignature added.
        public let cosigned: [UInt8]
        public let checkpoint: Checkpoint
        /// Whether the head was newer than the state's (false: the same head, cosigned again).
        public let advanced: Bool
    }

    public let configuration: Configuration
    /// The host (its head, proofs, and where the cosigned head goes).
    let host: CloisterClient
    let status = Mutex(WitnessStatus())

    /// A witness of the deployment in `configuration`, following the host `client` talks to.
    public init(configuration: Configuration, host client: CloisterClient) {
        self.configuration = configuration
        host = client
    }

    /// The newest cosigned head, and how the last round went.
    public var currentStatus: WitnessStatus { status.withLock { $0 } }

    /// One round: a cosigned head, or the reason there is none this time.
    @discardableResult
    public func round() async throws(WitnessError) -> Round {
        do throws(WitnessError) {
            let round = try await decide()
            status.withLock { $0.succeeded(round, at: configuration.now()) }
            do { try await host.submitWitnessed(round.cosigned) } catch {
                throw WitnessError(.submitRefused, "the host did not take the cosigned head: \(error)", underlying: error)
            }
            return round
        } catch {
            status.withLock { $0.failed(error) }
            throw error
        }
    }

    /// Fetches, judges, cosigns and saves; the host is not told yet.
    private func decide() async throws(WitnessError) -> Round {
        let c = configuration
        let state = try WitnessState.load(path: c.statePath, deployment: c.deployment)
        let offered: LogHead
        do { offered = try await host.fetchLogHead() } catch {
            if error.code == .logProofInvalid { throw WitnessError(.headInvalid, error.message, underlying: error) }
            throw WitnessError(.hostUnavailable, "the host's head: \(error)", underlying: error)
        }
        let seen = state?.head
        var proof: [[UInt8]]?
        var step = HeadJudge.compare(seen: seen?.checkpoint, offered: offered.checkpoint)
        if case .proofNeeded(let from, let to) = step, let seen {
            do { proof = try await host.consistencyProof(from: from, to: to) } catch {
                // A body that is not a proof is a refused proof; no answer decides nothing.
                guard error.code == .logForked else { throw WitnessError(.hostUnavailable, "the consistency proof: \(error)", underlying: error) }
                step = .refuse(.logForked, error.message)
            }
            if let proof { step = HeadJudge.check(seen: seen.checkpoint, offered: offered.checkpoint, proof: proof) }
        }
        if case .refuse(let code, let message) = step, let seen { throw refusal(code, message, seen: seen, offered: offered, proof: proof) }
        let cosigned = try cosign(offered)
        let advanced = seen?.checkpoint != offered.checkpoint
        if advanced { try WitnessState(deployment: c.deployment, head: offered).save(path: c.statePath) }
        return Round(cosigned: cosigned, checkpoint: offered.checkpoint, advanced: advanced)
    }

    /// The head's note with this witness's cosignature, time now, in place of any it carried.
    func cosign(_ head: LogHead) throws(WitnessError) -> [UInt8] {
        let key = configuration.key.verifierKey
        do {
            let note = try SignedNote(parsing: head.note)
            let others = note.signatures.filter { !($0.name == key.name && $0.keyID == key.keyID) }
            let line = try configuration.key.signer.sign(text: note.text, timestamp: configuration.now())
            return try SignedNote(text: note.text, signatures: others + [line]).encoded
        } catch {
            throw WitnessError(.signingFailed, "cannot cosign: \(error)", underlying: error)
        }
    }

    /// The refusal, with its evidence written to the evidence directory (named in the message).
    private func refusal(_ code: WitnessErrorCode, _ message: String, seen: LogHead, offered: LogHead, proof: [[UInt8]]?) -> WitnessError {
        let c = configuration
        guard let directory = c.evidenceDirectory else { return WitnessError(code, message) }
        let failure: ForkEvidence.Failure = code == .logRolledBack ? .logRolledBack : .logForked
        let evidence = ForkEvidence(
            failure, deployment: c.deployment, observer: "witness \(c.key.name)", seen: seen, offered: offered, proof: proof, message: message)
        let path = (directory as NSString).appendingPathComponent(
            "\(code.rawValue)-\(seen.checkpoint.size)-\(offered.checkpoint.size)-\(evidence.time)-\(getpid()).json")
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try DurableFile.replace(path, with: evidence.json)
        } catch {
            return WitnessError(code, "\(message) (the evidence could not be written to \(path): \(error))")
        }
        return WitnessError(code, "\(message) (evidence: \(path))")
    }
}
