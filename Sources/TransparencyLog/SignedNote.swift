/// A C2SP signed note: a text ending in a newline, a blank line, and one or more signature lines. Parsing is
/// strict and checks no signature; `NoteVerifier` does.
public struct SignedNote: Sendable, Hashable {
    /// Largest note accepted, signatures included.
    public static let maxBytes = 64 * 1024
    /// Most signature lines accepted (C2SP asks for at least 16; Go's sumdb/note allows 100).
    public static let maxSignatures = 100
    /// Longest key name accepted, in bytes.
    public static let maxNameBytes = 255
    /// The em dash (U+2014) and the space that open a signature line.
    static let signaturePrefix: [UInt8] = [0xE2, 0x80, 0x94, 0x20]

    /// The text, with its final newline and without the blank line that follows it.
    public let text: [UInt8]
    /// The signature lines, in order.
    public let signatures: [NoteSignature]

    /// A note of `text` (non-empty, ending in a newline) signed by `signatures` (at least one).
    public init(text: [UInt8], signatures: [NoteSignature]) throws(TransparencyLogError) {
        try Self.checkCharacters(text)
        guard text.last == NoteText.newline else {
            throw TransparencyLogError(.malformedNote, "the text must end in a newline")
        }
        guard !signatures.isEmpty else { throw TransparencyLogError(.malformedNote, "a note has a signature") }
        guard signatures.count <= Self.maxSignatures else {
            throw TransparencyLogError(.tooManySignatures, "\(signatures.count) signatures; at most \(Self.maxSignatures)")
        }
        self.text = text
        self.signatures = signatures
        guard encoded.count <= Self.maxBytes else {
            throw TransparencyLogError(.noteTooLarge, "\(encoded.count) bytes; at most \(Self.maxBytes)")
        }
    }

    /// Parses a signed note. The text is everything up to the last blank line; every line after it is a signature.
    public init(parsing note: [UInt8]) throws(TransparencyLogError) {
        guard note.count <= Self.maxBytes else {
            throw TransparencyLogError(.noteTooLarge, "\(note.count) bytes; at most \(Self.maxBytes)")
        }
        try Self.checkCharacters(note)
        var split: Int? = nil
        var i = note.count - 1
        while i > 0 {
            if note[i] == NoteText.newline && note[i - 1] == NoteText.newline {
                split = i - 1
                break
            }
            i -= 1
        }
        guard let split else { throw TransparencyLogError(.malformedNote, "no blank line before the signatures") }
        let block = note[(split + 2)...]
        guard block.last == NoteText.newline else {
            throw TransparencyLogError(.malformedNote, "no signature, or the last line does not end in a newline")
        }
        let lines = block.dropLast().split(separator: NoteText.newline, omittingEmptySubsequences: false)
        guard lines.count <= Self.maxSignatures else {
            throw TransparencyLogError(.tooManySignatures, "\(lines.count) signatures; at most \(Self.maxSignatures)")
        }
        var signatures: [NoteSignature] = []
        for line in lines { signatures.append(try NoteSignature(parsingLine: line)) }
        try self.init(text: Array(note[...split]), signatures: signatures)
    }

    /// The note as it is sent: the text, a blank line, and the signature lines.
    public var encoded: [UInt8] { text + [NoteText.newline] + signatures.flatMap(\.line) }

    /// Refuses bytes that are not UTF-8 or that hold a control character other than newline.
    static func checkCharacters(_ bytes: [UInt8]) throws(TransparencyLogError) {
        guard !bytes.isEmpty else { throw TransparencyLogError(.malformedNote, "the note is empty") }
        if let c = bytes.first(where: { $0 < 0x20 && $0 != NoteText.newline }) {
            throw TransparencyLogError(.controlCharacter, "control character 0x\(String(c, radix: 16))")
        }
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw TransparencyLogError(.invalidUTF8, "the note is not UTF-8")
        }
    }
}
