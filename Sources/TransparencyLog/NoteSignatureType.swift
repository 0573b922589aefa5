/// The signature types of C2SP signed-note that this module signs and verifies, by their identifier byte.
public enum NoteSignatureType: UInt8, Sendable, CaseIterable, Codable {
    /// Ed25519 over the note text (signed-note): the log's own signature on its checkpoints.
    case ed25519 = 0x01
    /// Timestamped Ed25519 checkpoint cosignature (tlog-cosignature, `cosignature/v1`): a witness's signature.
    case cosignatureV1 = 0x04
}
