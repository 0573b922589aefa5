/// What `CloisterClient.checkWitnesses()` found.
public struct WitnessReport: Sendable {
    /// The client's newest head after the check.
    public let head: LogHead
    /// The pinned witnesses whose cosigned heads verified and are consistent with `head`.
    public let witnessed: [WitnessedHead]
    /// The pinned witnesses not counted, each with the reason.
    public let missing: [(name: String, reason: String)]
}
