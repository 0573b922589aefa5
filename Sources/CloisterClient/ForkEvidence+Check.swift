import NitroAttestation
import TransparencyLog

extension ForkEvidence {
    /// What a piece of evidence shows, checked offline against the deployment's key.
    public struct Verdict: Sendable, Hashable {
        public enum Finding: String, Sendable, CaseIterable {
            /// Two heads of one size with different roots, both signed by the deployment key: the deployment signed
            /// two logs. Conclusive.
            case forkProven
            /// The two heads are the same tree: nothing is shown.
            case sameHead
            /// The proof given leads from the smaller head to the larger: the heads are consistent, nothing is shown.
            case consistent
            /// The proof given does not verify. Not conclusive: the host may have made the proof up; the heads may
            /// still be consistent (a proof made from the receipts, or a head of equal size, decides).
            case proofFailed
            /// A smaller head offered after a larger one, with no proof between them. Not conclusive: an old signed
            /// head is public, and anyone can show it again.
            case olderHead
            /// A larger head with no proof between them. Not conclusive.
            case unproven
        }

        public let finding: Finding
        /// The head seen first and the one offered, as verified.
        public let seen: Checkpoint
        public let offered: Checkpoint

        /// Whether the evidence proves a fork on its own.
        public var conclusive: Bool { finding == .forkProven }

        /// What the finding means, in a sentence.
        public var explanation: String {
            let sizes = "heads of \(seen.size) and \(offered.size) receipts"
            switch finding {
            case .forkProven:
                return "the deployment key signed two different heads of \(seen.size) receipts: its log forked"
            case .sameHead:
                return "both are the same head of \(seen.size) receipts: nothing is shown"
            case .consistent:
                return "the proof shows the \(sizes) consistent: nothing is shown"
            case .proofFailed:
                return "the host's proof between the \(sizes) does not verify; the host may have made it up, so this alone proves no fork "
                    + "(a proof made from the receipts, or a head of equal size, would decide)"
            case .olderHead:
                return "a head of \(offered.size) receipts was shown after one of \(seen.size); anyone can show an old signed head again, "
                    + "so this alone proves no fork (a different head signed at a size up to \(seen.size) would)"
            case .unproven:
                return "no proof between the \(sizes); this alone proves nothing"
            }
        }
    }

    /// Checks both heads against `deployment`'s key (`malformedEvidence` if either is not the deployment's: a head
    /// anyone could sign proves nothing) and says what they and the proof show.
    public func check(deployment expected: [UInt8]) throws(ClientError) -> Verdict {
        guard deployment == expected else {
            throw ClientError(.malformedEvidence, "the evidence is about deployment \(Hex.encode(deployment)), not \(Hex.encode(expected))")
        }
        let a: LogHead
        let b: LogHead
        do {
            a = try LogHead.verify(seen, deployment: expected)
            b = try LogHead.verify(offered, deployment: expected)
        } catch {
            throw ClientError(.malformedEvidence, "a head of the evidence is not signed by the deployment: \(error.message)")
        }
        let (seen, offered) = (a.checkpoint, b.checkpoint)
        func verdict(_ finding: Verdict.Finding) -> Verdict { Verdict(finding: finding, seen: seen, offered: offered) }
        if seen.size == offered.size { return verdict(seen.rootHash == offered.rootHash ? .sameHead : .forkProven) }
        let (small, large) = seen.size < offered.size ? (seen, offered) : (offered, seen)
        guard let proof else { return verdict(offered.size < seen.size ? .olderHead : .unproven) }
        do {
            try ConsistencyProof.verify(oldSize: small.size, newSize: large.size, proof: proof, oldRoot: small.rootHash, newRoot: large.rootHash)
            return verdict(.consistent)
        } catch {
            return verdict(.proofFailed)
        }
    }
}
