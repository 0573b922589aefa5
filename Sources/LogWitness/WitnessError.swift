import NitroAttestation

/// Why a witness round, key or state was refused: a `WitnessErrorCode`, a message and the cause.
public typealias WitnessError = CodedError<WitnessErrorCode>

/// The rule a witness round broke. The raw value is the stable name used in docs/log.md ("Witnesses") and in the
/// witness's log lines and exit messages.
public enum WitnessErrorCode: String, Sendable, CaseIterable {
    /// The host's head is not a checkpoint the deployment key signed under the deployment's origin.
    case headInvalid
    /// The host's head is not consistent with the newest one this witness cosigned: the consistency proof does not
    /// verify (or is not one), or it has the same size and another root. Refused, never cosigned; evidence kept.
    case logForked
    /// The host's head is smaller than the newest one this witness cosigned. Refused, never cosigned; evidence kept.
    case logRolledBack
    /// The host did not answer the head or the proof (network, HTTP error, a proof still on its way): nothing was
    /// decided; the next round asks again.
    case hostUnavailable
    /// The host did not take the cosigned head (`POST /v1/log/witness`); the witness still serves it.
    case submitRefused
    /// The state file is not one, or is of another deployment; it is left as it is.
    case stateInvalid
    /// The state file could not be written.
    case stateUnwritable
    /// The key file is not one, or other users may read it.
    case keyInvalid
    /// A key file is already at the path given to `witness-keygen`.
    case keyExists
    /// The evidence file could not be written (the refusal stands).
    case evidenceUnwritable
    /// The witness key failed to sign.
    case signingFailed
}
