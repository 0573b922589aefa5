import TransparencyLog

/// What a witness decides about a head the host offers, given the newest one it cosigned: a pure function of the
/// two checkpoints and the host's proof, no I/O and no clock.
public enum HeadJudge {
    /// The next step of a round.
    public enum Step: Sendable, Hashable {
        /// Cosign it.
        case accept
        /// Ask the host for the consistency proof between these sizes, then `check` it.
        case proofNeeded(from: UInt64, to: UInt64)
        /// Refuse it, with the code and why.
        case refuse(WitnessErrorCode, String)
    }

    /// The first decision: no head seen yet, the same head, or a larger one (after a proof) is accepted; a smaller
    /// one is `logRolledBack`; another root at the same size is `logForked`.
    public static func compare(seen: Checkpoint?, offered: Checkpoint) -> Step {
        guard let seen else { return .accept }
        if offered.size < seen.size {
            return .refuse(.logRolledBack, "the host's head of \(offered.size) receipts is older than the one of \(seen.size) this witness cosigned")
        }
        if offered.size == seen.size {
            return offered.rootHash == seen.rootHash ? .accept : .refuse(.logForked, "two heads of \(seen.size) receipts with different roots")
        }
        // Every tree extends the empty one: there is nothing to prove.
        return seen.size == 0 ? .accept : .proofNeeded(from: seen.size, to: offered.size)
    }

    /// The second decision, for a larger head: the proof must lead from the seen root to the offered one.
    public static func check(seen: Checkpoint, offered: Checkpoint, proof: [[UInt8]]) -> Step {
        do {
            try ConsistencyProof.verify(oldSize: seen.size, newSize: offered.size, proof: proof, oldRoot: seen.rootHash, newRoot: offered.rootHash)
            return .accept
        } catch {
            return .refuse(.logForked, "the head of \(offered.size) receipts does not extend the one of \(seen.size) this witness cosigned: \(error)")
        }
    }
}
