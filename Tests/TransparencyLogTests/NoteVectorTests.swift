import NitroAttestation
import SecureModule
import Testing

@testable import TransparencyLog

/// Go's sumdb/note and C2SP's examples (Vectors/notes.json): our verifier accepts their notes, refuses what the
/// case names, and our signer writes their notes byte for byte.
@Suite struct NoteVectorTests {
    /// The seed in a Go `PRIVATE+KEY+NAME+HASH+BASE64(0x01 || seed)` signer key.
    static func seed(goSignerKey: String) -> [UInt8] {
        let material = Base64.decode(goSignerKey.split(separator: "+", maxSplits: 4).last!)!
        precondition(material.first == 0x01 && material.count == 33)
        return Array(material.dropFirst())
    }

    @Test(arguments: Vectors.notes.notes)
    func note(_ v: Vectors.NoteCase) throws {
        let bytes = Array(v.note.utf8)
        let result: [String]
        do {
            let keys = try v.vkeys.map { key throws(TransparencyLogError) in try NoteVerifierKey(parsing: key) }
            #expect(keys.map(\.encoded) == v.vkeys)
            result = try NoteVerifier(keys: keys).verify(bytes).verified.map(\.key.name)
        } catch {
            #expect(error.code.rawValue == v.expect, "\(error)")
            return
        }
        #expect(v.expect == "verified")
        #expect(result == v.verifiedBy)
        #expect(try SignedNote(parsing: bytes).encoded == bytes)
    }

    /// Go's TestSign: the same key and text give the same note, byte for byte.
    @Test func signerWritesGoNoteByteForByte() throws {
        let v = try #require(Vectors.notes.notes.first { $0.skey != nil })
        let key = try Ed25519Key(seed: Self.seed(goSignerKey: v.skey!))
        let signer = try NoteSigner(name: "PeterNeumann", key: key)
        #expect(signer.verifierKey.encoded == v.vkeys[0])
        let body = try SignedNote(parsing: Array(v.note.utf8)).text
        #expect(try NoteSigner.sign(text: body, by: [signer]).encoded == Array(v.note.utf8))
    }

    @Test(arguments: Vectors.notes.checkpoints)
    func checkpoint(_ v: Vectors.CheckpointCase) throws {
        let text: [UInt8]
        if let note = v.note {
            let parsed = try SignedNote(parsing: Array(note.utf8))
            #expect(parsed.signatures.count == v.signatures)
            #expect(parsed.encoded == Array(note.utf8))
            text = parsed.text
        } else {
            text = Array(v.text!.utf8)
        }
        let checkpoint = try Checkpoint(parsing: text)
        #expect(checkpoint.origin == v.origin)
        #expect(checkpoint.size == v.size)
        #expect(Base64.encode(checkpoint.rootHash) == v.root)
        #expect(checkpoint.text == text)
        if let data = v.leafData {
            #expect(TreeHash.leaf(Array(data.utf8)) == checkpoint.rootHash)
        }
    }

    /// The cosignature example's witness line is a key ID, an 8-byte time and a 64-byte signature.
    @Test func cosignatureExampleHasTheTimestampedLayout() throws {
        let v = try #require(Vectors.notes.checkpoints.first { $0.signatures == 2 })
        let witness = try SignedNote(parsing: Array(v.note!.utf8)).signatures[1]
        #expect(witness.name == "witness.example.com/w1")
        #expect(witness.signature.count == 8 + 64)
    }
}
