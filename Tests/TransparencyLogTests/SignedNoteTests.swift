import Foundation
import NitroAttestation
import Testing

@testable import TransparencyLog

@Suite struct SignedNoteTests {
    static let good = TestKeys.note()
    static let text = Array(String(decoding: TestKeys.checkpoint.text, as: UTF8.self).utf8)
    static var line: String { String(decoding: good.dropFirst(text.count + 1), as: UTF8.self) }

    struct Bad: Sendable, CustomTestStringConvertible {
        let name: String
        let bytes: [UInt8]
        let code: TransparencyLogErrorCode
        var testDescription: String { name }
    }

    static func bad(_ name: String, _ text: String, _ code: TransparencyLogErrorCode) -> Bad {
        Bad(name: name, bytes: Array(text.utf8), code: code)
    }

    static let t = String(decoding: text, as: UTF8.self)

    static let cases: [Bad] = [
        bad("empty", "", .malformedNote),
        bad("text only", t, .malformedNote),
        bad("blank line, no signature", t + "\n", .malformedNote),
        bad("no final newline", t + "\n" + line.dropLast(), .malformedNote),
        bad("blank line after the signatures", t + "\n" + line + "\n", .malformedNote),
        bad("CR LF line ends", t.replacingOccurrences("\n", "\r\n") + "\r\n" + line, .controlCharacter),
        bad("tab", "a\tb\n\n" + line, .controlCharacter),
        Bad(name: "invalid UTF-8", bytes: [0xFF] + good, code: .invalidUTF8),
        bad("hyphen for the em dash", t + "\n-" + line.dropFirst(), .malformedSignatureLine),
        bad("two spaces after the name", t + "\n" + line.replacingOccurrences(" ", "  ", last: true), .malformedSignatureLine),
        bad("trailing space", t + "\n" + line.dropLast() + " \n", .malformedSignatureLine),
        bad("plus in the name", t + "\n" + line.replacingOccurrences("cloister/", "cloister+"), .invalidKeyName),
        bad("unpadded base64", t + "\n" + line.replacingOccurrences("=\n", "\n"), .nonCanonicalBase64),
        bad("URL-safe base64", t + "\n— a/b AAAAAA-_\n", .nonCanonicalBase64),
        bad("stray low bits", t + "\n— a/b AAAAAAB=\n", .nonCanonicalBase64),
        bad("signature of 4 bytes", t + "\n— a/b AAAAAA==\n", .malformedSignatureLine),
        bad("101 signatures", t + "\n" + String(repeating: line, count: 101), .tooManySignatures),
        Bad(name: "over 64 KiB", bytes: [UInt8](repeating: 0x61, count: SignedNote.maxBytes) + Array(("\n\n" + line).utf8), code: .noteTooLarge),
    ]

    @Test(arguments: cases)
    func malformedNoteIsRefused(_ b: Bad) {
        #expect(throws: TransparencyLogError(b.code, "")) { try SignedNote(parsing: b.bytes) }
    }

    @Test func textMayHoldBlankLines() throws {
        let text = Array("a\n\nb\n\n".utf8)
        let note = try NoteSigner.sign(text: text, by: [TestKeys.log])
        let parsed = try SignedNote(parsing: note.encoded)
        #expect(parsed.text == text)
        #expect(try NoteVerifier(keys: [TestKeys.log.verifierKey]).verify(parsed).count == 1)
    }

    @Test func signedNoteVerifiesAndUnknownLinesAreIgnored() throws {
        let stranger = try NoteSigner(name: "stranger.example", key: TestKeys.key())
        let impostor = try NoteSigner(name: TestKeys.log.verifierKey.name, key: TestKeys.key())
        let note = try NoteSigner.sign(text: Self.text, by: [stranger, impostor, TestKeys.log])
        let verified = try NoteVerifier(keys: [TestKeys.log.verifierKey]).verify(note.encoded).verified
        #expect(verified.map(\.key) == [TestKeys.log.verifierKey])
    }

    @Test func badSignatureFromAKnownKeyRefusesTheNote() throws {
        var bytes = Self.good
        bytes[3] ^= 0x01  // a letter of the origin: the text changes, the signature does not
        #expect(throws: TransparencyLogError(.invalidSignature, "")) {
            try NoteVerifier(keys: [TestKeys.log.verifierKey]).verify(bytes)
        }
    }

    @Test func duplicateSignatureIsRefused() throws {
        let signature = try TestKeys.log.sign(text: Self.text)
        let note = try SignedNote(text: Self.text, signatures: [signature, signature])
        #expect(throws: TransparencyLogError(.duplicateSignature, "")) {
            try NoteVerifier(keys: [TestKeys.log.verifierKey]).verify(note)
        }
    }

    @Test func encoderRefusesWhatTheParserWould() throws {
        let signature = try TestKeys.log.sign(text: Self.text)
        #expect(throws: TransparencyLogError(.malformedNote, "")) { try SignedNote(text: Array("no newline".utf8), signatures: [signature]) }
        #expect(throws: TransparencyLogError(.malformedNote, "")) { try SignedNote(text: Self.text, signatures: []) }
        #expect(throws: TransparencyLogError(.controlCharacter, "")) { try SignedNote(text: Array("a\r\n".utf8), signatures: [signature]) }
        #expect(throws: TransparencyLogError(.invalidKeyName, "")) { try NoteSignature(name: "a b", keyID: 1, signature: [1]) }
        #expect(throws: TransparencyLogError(.invalidKeyName, "")) { try NoteSignature(name: "", keyID: 1, signature: [1]) }
        #expect(throws: TransparencyLogError(.invalidKeyName, "")) {
            try NoteSignature(name: String(repeating: "a", count: 256), keyID: 1, signature: [1])
        }
    }
}

extension String {
    func replacingOccurrences(_ target: String, _ replacement: String, last: Bool = false) -> String {
        if last, let range = self.range(of: target, options: .backwards) {
            return replacingCharacters(in: range, with: replacement)
        }
        return components(separatedBy: target).joined(separator: replacement)
    }
}
