/// Entry points for libFuzzer and for tests: each feeds arbitrary bytes to a parser or verifier and traps
/// (`precondition`) when an invariant breaks; thrown `TransparencyLogError`s are expected. No I/O.
public enum TransparencyLogFuzzing {
    /// Parses `data` as a signed note, a checkpoint text and a verifier key. Invariants: whatever parses encodes
    /// back to exactly the same bytes (each value has one spelling), and verifying a parsed note against a key
    /// that signed none of its lines throws `noKnownSignature`.
    public static func fuzz(_ data: [UInt8]) {
        if let note = try? SignedNote(parsing: data) {
            precondition(note.encoded == data, "a note does not encode back to its bytes")
            precondition((try? SignedNote(parsing: note.encoded)) == note, "a note does not parse back")
            if let key = try? NoteVerifierKey(name: "fuzz.invalid/never", type: .ed25519, publicKey: [UInt8](repeating: 7, count: 32)),
                let verifier = try? NoteVerifier(keys: [key]), !note.signatures.contains(where: { $0.name == key.name })
            {
                do {
                    _ = try verifier.verify(note)
                    preconditionFailure("a note verified with no line from the key")
                } catch {
                    precondition(error.code == .noKnownSignature, "an unknown key gave \(error.code)")
                }
            }
        }
        if let checkpoint = try? Checkpoint(parsing: data) {
            precondition(checkpoint.text == data, "a checkpoint does not encode back to its bytes")
        }
        if let key = try? NoteVerifierKey(parsing: data) {
            precondition(Array(key.encoded.utf8) == data, "a verifier key does not encode back to its bytes")
        }
        fuzzProofs(data)
    }

    /// The tree every input's proofs are checked against: leaf i is the hash of the byte i, for 256 leaves, with its
    /// root at every size. The roots are the compact range's, each checked against the recursive root once: nothing
    /// here depends on the input (building it for every input cost the campaign almost all of its runs).
    static let tree: (leaves: [[UInt8]], roots: [[UInt8]]) = {
        let leaves = (0..<256).map { TreeHash.leaf([UInt8($0)]) }
        var range = CompactRange()
        var roots = [TreeHash.emptyRoot]
        for (i, leaf) in leaves.enumerated() {
            try! range.append(leaf)
            precondition(range.root == TreeHash.subtreeRoot(leaves[0...i]), "compact range root differs at \(i + 1)")
            roots.append(range.root)
        }
        return (leaves, roots)
    }()

    /// Reads an index and two sizes (a byte each) and the rest as 32-byte nodes, and checks both proof verifiers
    /// against `tree` at those sizes. Invariants: no trap; a proof that verifies is the one `make` gives.
    public static func fuzzProofs(_ data: [UInt8]) {
        guard data.count >= 3 else { return }
        let index = UInt64(data[0])
        let oldSize = UInt64(data[1])
        let newSize = UInt64(data[2])
        let nodes = stride(from: 3, to: data.count, by: 32).map { Array(data[$0..<min($0 + 32, data.count)]) }
        let (leaves, roots) = tree
        if (try? InclusionProof.verify(
            leafHash: leaves[Int(index)], index: index, size: newSize, proof: nodes, root: roots[Int(newSize)])) != nil
        {
            precondition(nodes == (try? InclusionProof.make(index: index, size: newSize, leafHashes: leaves)), "a forged inclusion proof")
        }
        if (try? ConsistencyProof.verify(
            oldSize: oldSize, newSize: newSize, proof: nodes, oldRoot: roots[Int(oldSize)], newRoot: roots[Int(newSize)])) != nil
        {
            precondition(
                nodes == (try? ConsistencyProof.make(oldSize: oldSize, newSize: newSize, leafHashes: leaves)),
                "a forged consistency proof")
        }
    }
}
