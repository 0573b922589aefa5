import NitroAttestation
import Testing

@testable import TransparencyLog

/// The fuzz entry points over the vectors and over seeded mutations of them: no trap, every invariant held. A few
/// mutations each (the tests share two threads); Scripts/fuzz-tlog runs the campaign.
@Suite struct FuzzingTests {
    static var seeds: [[UInt8]] {
        var seeds = Vectors.notes.notes.map { Array($0.note.utf8) }
        seeds += Vectors.notes.checkpoints.compactMap { ($0.note ?? $0.text).map { Array($0.utf8) } }
        seeds += [TestKeys.note(cosignedBy: [TestKeys.witnessA]), TestKeys.checkpoint.text, Array(NoteVerifierKeyTests.peter.utf8)]
        return seeds
    }

    @Test func seedsAndMutations() {
        var rng = SystemRandomNumberGenerator()
        for seed in Self.seeds {
            TransparencyLogFuzzing.fuzz(seed)
            for _ in 0..<12 {
                var input = seed
                for _ in 0..<Int(rng.next() % 4 + 1) where !input.isEmpty {
                    let i = Int(rng.next() % UInt64(input.count))
                    switch rng.next() % 4 {
                    case 0: input[i] = UInt8(truncatingIfNeeded: rng.next())
                    case 1: input.remove(at: i)
                    case 2: input.insert(input[i], at: i)
                    default: input = Array(input[..<i])
                    }
                }
                TransparencyLogFuzzing.fuzz(input)
            }
        }
    }

    /// Real proofs (and their damaged copies) through the proof entry point.
    @Test func proofInputs() throws {
        let leaves = (0..<40).map { TreeHash.leaf([UInt8($0)]) }
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<80 {
            let n = UInt64(rng.next() % 40 + 1)
            let m = UInt64(rng.next() % n + 1)
            let i = UInt64(rng.next() % n)
            var nodes = rng.next() % 2 == 0
                ? try InclusionProof.make(index: i, size: n, leafHashes: leaves)
                : try ConsistencyProof.make(oldSize: m, newSize: n, leafHashes: leaves)
            if rng.next() % 2 == 0, !nodes.isEmpty { nodes[Int(rng.next() % UInt64(nodes.count))][0] ^= 1 }
            TransparencyLogFuzzing.fuzzProofs([UInt8(i), UInt8(m), UInt8(n)] + nodes.flatMap { $0 })
        }
    }
}
