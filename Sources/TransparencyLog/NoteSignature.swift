import NitroAttestation

/// One signature line of a note: `— NAME BASE64(KEYID || SIGNATURE)`.
public struct NoteSignature: Sendable, Hashable {
    /// The key name.
    public let name: String
    /// The key ID (the first four bytes of the base64 payload, big-endian).
    public let keyID: UInt32
    /// The bytes after the key ID: an Ed25519 signature, or a timestamp and a signature for a cosignature.
    public let signature: [UInt8]

    /// A signature line for the key `name` with `keyID`.
    public init(name: String, keyID: UInt32, signature: [UInt8]) throws(TransparencyLogError) {
        try NoteText.checkName(name)
        guard !signature.isEmpty else {
            throw TransparencyLogError(.malformedSignatureLine, "a signature of no bytes")
        }
        self.name = name
        self.keyID = keyID
        self.signature = signature
    }

    /// The line, with its em dash and final newline.
    public var line: [UInt8] {
        SignedNote.signaturePrefix + Array(name.utf8) + [NoteText.space]
            + Array(Base64.encode(NoteText.bigEndian(keyID) + signature).utf8) + [NoteText.newline]
    }

    /// Parses one line, without its final newline.
    init(parsingLine line: ArraySlice<UInt8>) throws(TransparencyLogError) {
        guard line.starts(with: SignedNote.signaturePrefix) else {
            throw TransparencyLogError(.malformedSignatureLine, "a signature line starts with an em dash and a space")
        }
        let rest = line.dropFirst(SignedNote.signaturePrefix.count)
        let fields = rest.split(separator: NoteText.space, omittingEmptySubsequences: false)
        guard fields.count == 2 else {
            throw TransparencyLogError(.malformedSignatureLine, "a signature line is a name and a signature, one space apart")
        }
        guard let name = String(validating: fields[0], as: UTF8.self) else {
            throw TransparencyLogError(.invalidKeyName, "the key name is not UTF-8")
        }
        let payload = try NoteText.base64(fields[1])
        guard payload.count >= 5 else {
            throw TransparencyLogError(.malformedSignatureLine, "a signature is a key ID and at least one byte")
        }
        try self.init(name: name, keyID: NoteText.uint32(payload[...]), signature: Array(payload.dropFirst(4)))
    }
}
