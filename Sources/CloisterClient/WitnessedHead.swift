import NitroAttestation
import TransparencyLog

/// A head of a deployment's log that a witness cosigned: signed by the deployment key under its origin, and
/// cosigned (C2SP `cosignature/v1`) by the witness's key.
public struct WitnessedHead: Sendable, Hashable {
    /// The witness.
    public let witness: NoteVerifierKey
    /// The head it cosigned, with the note as received (every signature line kept).
    public let head: LogHead
    /// The time the cosignature states, in seconds since 1970.
    public let time: UInt64

    /// The head in `note` if the deployment key signed it and `witness` cosigned it; `logProofInvalid` otherwise.
    public static func verify(_ note: [UInt8], deployment: [UInt8], witness: NoteVerifierKey) throws(ClientError) -> WitnessedHead {
        let origin = LogHead.origin(deployment: deployment)
        do {
            let verifier = try CheckpointVerifier(
                origin: origin, logKey: NoteVerifierKey(name: origin, type: .ed25519, publicKey: deployment), witnesses: [witness], requiredCosignatures: 1)
            let verified = try verifier.verify(note)
            return WitnessedHead(witness: witness, head: LogHead(checkpoint: verified.checkpoint, note: note), time: verified.cosignatures[0].timestamp ?? 0)
        } catch {
            throw ClientError(.logProofInvalid, "not a head of deployment \(Hex.encode(deployment).prefix(16))… cosigned by \(witness.name): \(error)")
        }
    }
}
