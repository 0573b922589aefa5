import NitroAttestation
import TransparencyLog

/// How a witness stands: its newest cosigned head and the outcome of its last round (what `/checkpoint` and
/// `/healthz` serve).
public struct WitnessStatus: Sendable {
    /// The newest head cosigned, with this witness's cosignature (nil before the first accepted round).
    public var cosigned: [UInt8]?
    public var checkpoint: Checkpoint?
    /// When the newest cosignature was made.
    public var cosignedAt: UInt64?
    /// The last round's failure (nil: it cosigned).
    public var lastError: WitnessError?
    /// Rounds refused as `logForked` or `logRolledBack` since the witness started.
    public var refusals = 0
    public var rounds = 0

    public init() {}

    mutating func succeeded(_ round: Witness.Round, at time: UInt64) {
        cosigned = round.cosigned
        checkpoint = round.checkpoint
        cosignedAt = time
        lastError = nil
        rounds += 1
    }

    /// A round that ended in `error`; a `submitRefused` ends a round already counted, whose cosignature stands.
    mutating func failed(_ error: WitnessError) {
        lastError = error
        if error.code == .logForked || error.code == .logRolledBack { refusals += 1 }
        if error.code != .submitRefused { rounds += 1 }
    }
}
