import NitroAttestation

/// Why the deployment log was refused at boot, or why a batch could not be added to it: a
/// `DeploymentLogErrorCode`, a message and the cause. Equality compares the code only.
public typealias DeploymentLogError = CodedError<DeploymentLogErrorCode>

/// The rule the deployment log broke. The raw value is the stable name used in docs/log.md.
public enum DeploymentLogErrorCode: String, Sendable, CaseIterable {
    /// The stored head is not this deployment's valid head: not a record, a checkpoint that does not verify with the
    /// deployment key, another deployment's origin, or a compact range whose root or size is not the checkpoint's.
    /// The enclave serves nothing.
    case logHeadInvalid
    /// The stored head changed under this enclave (compare-and-swap lost): the batch is not logged; the stored head
    /// is checked and taken up for the next batch.
    case logHeadChanged
    /// The host's store did not answer; the batch is not logged.
    case storeUnavailable
    /// The deployment key failed to sign a head, or the log is full.
    case signingFailed
}
