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
    /// The host's store is older than the log says: a record older than the state the newest head committed to,
    /// absent though known, or written after the stored head (the head was rolled back); or a pinned witness has
    /// cosigned a larger head of the deployment than the store holds (the whole store was rolled back). The enclave
    /// serves nothing.
    case storeRolledBack
    /// A workload record this deployment's enclave did not write for that key and version (no valid tag).
    case storeRecordInvalid
    /// The store index (the version and hash of every workload record, which rollback detection needs) is at its
    /// bound (`CLOISTER_STORE_INDEX_BYTES`): the write of a new record is refused; records already known can still
    /// change, and nothing else fails.
    case storeIndexFull
    /// A pinned witness cosigned another head of the same size than the one in the store. The enclave serves nothing.
    case logForked
}
