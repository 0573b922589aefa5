/// Checks a signed checkpoint for one log: its origin, the log key's signature, and the cosignatures of pinned
/// witnesses. A pure value: no clock and no I/O; cosignature times are returned for the caller to judge.
public struct CheckpointVerifier: Sendable {
    /// A checkpoint that passed, with the witnesses that cosigned it.
    public struct Verified: Sendable, Hashable {
        /// The checkpoint.
        public let checkpoint: Checkpoint
        /// The note as received, all its signature lines kept (for passing on to others).
        public let note: SignedNote
        /// The pinned witnesses' valid cosignatures, with their times.
        public let cosignatures: [NoteVerifier.Verified]
    }

    /// The origin line the log's checkpoints carry.
    public let origin: String
    /// The log's key.
    public let logKey: NoteVerifierKey
    /// The pinned witnesses' keys.
    public let witnesses: [NoteVerifierKey]
    /// How many of the witnesses must cosign.
    public let requiredCosignatures: Int
    private let verifier: NoteVerifier

    /// A verifier for the log `origin` signed by `logKey`, needing `requiredCosignatures` of `witnesses`.
    public init(
        origin: String, logKey: NoteVerifierKey, witnesses: [NoteVerifierKey] = [], requiredCosignatures: Int = 0
    ) throws(TransparencyLogError) {
        guard requiredCosignatures >= 0, requiredCosignatures <= witnesses.count else {
            throw TransparencyLogError(.notEnoughCosignatures, "\(requiredCosignatures) of \(witnesses.count) witnesses can never be met")
        }
        verifier = try NoteVerifier(keys: [logKey] + witnesses)
        self.origin = origin
        self.logKey = logKey
        self.witnesses = witnesses
        self.requiredCosignatures = requiredCosignatures
    }

    /// The checkpoint in `note`, once every rule passed.
    public func verify(_ note: [UInt8]) throws(TransparencyLogError) -> Verified {
        let parsed = try SignedNote(parsing: note)
        let verified: [NoteVerifier.Verified]
        do {
            verified = try verifier.verify(parsed)
        } catch where error.code == .noKnownSignature {
            throw TransparencyLogError(.missingLogSignature, "no signature by \(logKey.name)", underlying: error)
        }
        guard verified.contains(where: { $0.key == logKey }) else {
            throw TransparencyLogError(.missingLogSignature, "no signature by \(logKey.name)")
        }
        let checkpoint = try Checkpoint(parsing: parsed.text)
        guard checkpoint.origin == origin else {
            throw TransparencyLogError(.originMismatch, "origin \(checkpoint.origin), not \(origin)")
        }
        let cosignatures = verified.filter { $0.key != logKey }
        guard cosignatures.count >= requiredCosignatures else {
            throw TransparencyLogError(
                .notEnoughCosignatures, "\(cosignatures.count) of the \(requiredCosignatures) cosignatures required")
        }
        return Verified(checkpoint: checkpoint, note: parsed, cosignatures: cosignatures)
    }
}
