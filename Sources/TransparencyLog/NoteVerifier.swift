import SecureModule

/// Verifies signed notes against a set of known keys (C2SP signed-note): lines from unknown keys are ignored,
/// every line from a known key must verify, and at least one must.
public struct NoteVerifier: Sendable {
    /// A signature that verified: the key, and for a cosignature the time it states.
    public struct Verified: Sendable, Hashable {
        /// The known key that made it.
        public let key: NoteVerifierKey
        /// The cosignature's timestamp (seconds since 1970); nil for a plain Ed25519 signature.
        public let timestamp: UInt64?
    }

    /// The known keys.
    public let keys: [NoteVerifierKey]

    /// A verifier for `keys`; two keys with one name and key ID are refused, since a line could not say which.
    public init(keys: [NoteVerifierKey]) throws(TransparencyLogError) {
        var seen = Set<String>()
        for key in keys where !seen.insert("\(key.name)+\(key.keyID)").inserted {
            throw TransparencyLogError(.ambiguousKey, "two keys named \(key.name) with one key ID")
        }
        self.keys = keys
    }

    /// The known keys' signatures on `note`, in the order of its lines.
    public func verify(_ note: SignedNote) throws(TransparencyLogError) -> [Verified] {
        var verified: [Verified] = []
        var seen = Set<Int>()
        for line in note.signatures {
            guard let index = keys.firstIndex(where: { $0.name == line.name && $0.keyID == line.keyID }) else { continue }
            guard seen.insert(index).inserted else {
                throw TransparencyLogError(.duplicateSignature, "two signatures from \(line.name)")
            }
            verified.append(try Self.check(line, of: note.text, by: keys[index]))
        }
        guard !verified.isEmpty else {
            throw TransparencyLogError(.noKnownSignature, "none of \(note.signatures.count) signatures is from a known key")
        }
        return verified
    }

    /// Parses `note` and returns it with its known keys' signatures.
    public func verify(_ note: [UInt8]) throws(TransparencyLogError) -> (note: SignedNote, verified: [Verified]) {
        let parsed = try SignedNote(parsing: note)
        return (parsed, try verify(parsed))
    }

    private static func check(_ line: NoteSignature, of text: [UInt8], by key: NoteVerifierKey) throws(TransparencyLogError) -> Verified {
        switch key.type {
        case .ed25519:
            guard Ed25519Key.verify(line.signature, of: text, publicKey: key.publicKey) else {
                throw TransparencyLogError(.invalidSignature, "the signature by \(key.name) does not verify")
            }
            return Verified(key: key, timestamp: nil)
        case .cosignatureV1:
            guard line.signature.count == 8 + 64 else {
                throw TransparencyLogError(.invalidSignature, "a cosignature by \(key.name) is not 72 bytes")
            }
            let timestamp = line.signature.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard timestamp <= UInt64(Int64.max) else {
                throw TransparencyLogError(.invalidTimestamp, "cosignature time \(timestamp) is above 2^63 - 1")
            }
            let message = NoteSigner.cosignedMessage(text: text, timestamp: timestamp)
            guard Ed25519Key.verify(Array(line.signature.dropFirst(8)), of: message, publicKey: key.publicKey) else {
                throw TransparencyLogError(.invalidSignature, "the cosignature by \(key.name) does not verify")
            }
            return Verified(key: key, timestamp: timestamp)
        }
    }
}
