import NitroAttestation
import Testing

@testable import TransparencyLog

@Suite struct NoteVerifierKeyTests {
    /// Go sumdb/note's TestNewVerifier key (golang/mod, sumdb/note/note_test.go).
    static let peter = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"

    @Test func parsesAndWritesBack() throws {
        let key = try NoteVerifierKey(parsing: Self.peter)
        #expect(key.name == "PeterNeumann")
        #expect(key.keyID == 0xc74f_20a3)
        #expect(key.type == .ed25519)
        #expect(key.encoded == Self.peter)
    }

    /// A key whose base64 holds `+` (about half of all keys) parses and writes back.
    @Test func aKeyWhoseBase64HoldsAPlusParses() throws {
        var found = 0
        for _ in 0..<200 where found < 3 {
            let key = try NoteVerifierKey(name: "witness.example/w", type: .cosignatureV1, publicKey: try TestKeys.key().publicKey)
            guard key.encoded.split(separator: "+", maxSplits: 2)[2].contains("+") else { continue }
            found += 1
            #expect(try NoteVerifierKey(parsing: key.encoded) == key)
        }
        #expect(found == 3)
    }

    /// As in Go's test: no proper substring of the key, and no copy with one byte changed, is a valid key.
    @Test func everyManglingIsRefused() {
        let bytes = Array(Self.peter.utf8)
        for i in 0...bytes.count {
            for j in (i + 1)..<(bytes.count + 1) where i != 0 || j != bytes.count {
                #expect(throws: TransparencyLogError.self) { try NoteVerifierKey(parsing: Array(bytes[i..<j])) }
            }
        }
        for i in bytes.indices {
            var mangled = bytes
            mangled[i] &+= 1
            #expect(throws: TransparencyLogError.self) { try NoteVerifierKey(parsing: mangled) }
        }
    }

    struct Bad: Sendable, CustomTestStringConvertible {
        let text: String
        let code: TransparencyLogErrorCode
        var testDescription: String { text }
    }

    static let bad: [Bad] = [
        // Go's own: a key of the wrong length (its last base64 digit also has stray low bits) and an unknown
        // algorithm, each with a matching key hash.
        .init(text: "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==", code: .malformedVerifierKey),
        .init(text: "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEA==", code: .unsupportedKey),
        .init(text: "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", code: .unsupportedKey),
        .init(text: "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", code: .malformedVerifierKey),
        .init(text: "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", code: .keyIDMismatch),
        .init(text: "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq_LDE4izWy10TW", code: .malformedVerifierKey),
        .init(text: "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW+", code: .malformedVerifierKey),
        .init(text: "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", code: .invalidKeyName),
        .init(text: "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", code: .invalidKeyName),
        .init(text: "Peter\u{2003}Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", code: .invalidKeyName),
        .init(text: "PeterNeumann+c74f20a3+AA==", code: .unsupportedKey),
    ]

    @Test(arguments: bad)
    func badKeyIsRefused(_ b: Bad) {
        #expect(throws: TransparencyLogError(b.code, "")) { try NoteVerifierKey(parsing: b.text) }
    }

    @Test func keyIDIsTheSpecsHash() throws {
        let publicKey = [UInt8](repeating: 0x42, count: 32)
        let key = try NoteVerifierKey(name: "example.com/w", type: .cosignatureV1, publicKey: publicKey)
        let digest = SHA.sha256(Array("example.com/w".utf8) + [0x0A, 0x04] + publicKey)
        #expect(NoteText.bigEndian(key.keyID) == Array(digest.prefix(4)))
        #expect(try NoteVerifierKey(parsing: key.encoded) == key)
    }

    @Test func ambiguousKeysAreRefused() throws {
        let key = try NoteVerifierKey(parsing: Self.peter)
        #expect(throws: TransparencyLogError(.ambiguousKey, "")) { try NoteVerifier(keys: [key, key]) }
    }
}
