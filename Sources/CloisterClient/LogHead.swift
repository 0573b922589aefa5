import EnclaveWire
import NitroAttestation
import TransparencyLog

/// A verified head of a deployment's log: a C2SP checkpoint signed by the deployment key (the commitment, as an
/// Ed25519 note key named by the origin `cloister/<commitment hex>`).
public struct LogHead: Sendable, Hashable {
    /// The checkpoint: origin, size and root.
    public let checkpoint: Checkpoint
    /// The signed note as received.
    public let note: [UInt8]

    /// The origin of the log of the deployment whose commitment is `deployment`.
    public static func origin(deployment: [UInt8]) -> String { "cloister/" + Hex.encode(deployment).lowercased() }

    /// The head in `note`, if the deployment key signed it under the deployment's origin; `logProofInvalid` otherwise.
    public static func verify(_ note: [UInt8], deployment: [UInt8]) throws(ClientError) -> LogHead {
        try verify(note, with: try verifier(deployment: deployment), deployment: deployment)
    }

    /// The verifier of the heads of the deployment whose commitment is `deployment` (made once, used for many heads).
    public static func verifier(deployment: [UInt8]) throws(ClientError) -> CheckpointVerifier {
        let origin = origin(deployment: deployment)
        do { return try CheckpointVerifier(origin: origin, logKey: NoteVerifierKey(name: origin, type: .ed25519, publicKey: deployment)) } catch {
            throw ClientError(.logProofInvalid, "deployment \(Hex.encode(deployment).prefix(16))… is not a log key: \(error)")
        }
    }

    /// The head in `note`, checked by `verifier` (`verifier(deployment:)` of `deployment`).
    public static func verify(_ note: [UInt8], with verifier: CheckpointVerifier, deployment: [UInt8]) throws(ClientError) -> LogHead {
        do { return LogHead(checkpoint: try verifier.verify(note).checkpoint, note: note) } catch {
            throw ClientError(.logProofInvalid, "the log head is not deployment \(Hex.encode(deployment).prefix(16))…'s: \(error)")
        }
    }

    /// The head a receipt carries, checked with the receipt's inclusion proof at its index: `logHeadMissing` when a
    /// receipt of a deployment carries none, `logProofInvalid` when the head or the proof does not verify.
    public static func verifyInclusion(_ signed: SignedReceipt, deployment: [UInt8]) throws(ClientError) -> LogHead {
        guard let note = signed.head, let index = signed.index, let proof = signed.logProof else {
            throw ClientError(.logHeadMissing, "the receipt of deployment \(Hex.encode(deployment).prefix(16))… carries no log head")
        }
        let head = try verify(note, deployment: deployment)
        do {
            try InclusionProof.verify(
                leafHash: TreeHash.leaf(signed.receipt), index: index, size: head.checkpoint.size, proof: proof, root: head.checkpoint.rootHash)
        } catch {
            throw ClientError(.logProofInvalid, "the receipt is not at index \(index) of the log head of \(head.checkpoint.size): \(error)")
        }
        return head
    }
}
