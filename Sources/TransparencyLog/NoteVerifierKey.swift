import NitroAttestation

/// A public key that verifies note signatures, with the name and key ID its signature lines carry (C2SP
/// signed-note, "Verifier keys"): written `NAME+HEXKEYID+BASE64(TYPE || PUBLICKEY)`.
public struct NoteVerifierKey: Sendable, Hashable {
    /// The key name that signature lines carry.
    public let name: String
    /// The first four bytes, big-endian, of SHA-256(name || 0x0A || type || public key).
    public let keyID: UInt32
    /// What the key signs: notes (Ed25519) or checkpoint cosignatures.
    public let type: NoteSignatureType
    /// The 32-byte Ed25519 public key (RFC 8032).
    public let publicKey: [UInt8]

    /// The key named `name` for `publicKey`, its key ID computed.
    public init(name: String, type: NoteSignatureType, publicKey: [UInt8]) throws(TransparencyLogError) {
        try NoteText.checkName(name)
        guard publicKey.count == 32 else {
            throw TransparencyLogError(.unsupportedKey, "an Ed25519 public key is 32 bytes, not \(publicKey.count)")
        }
        self.name = name
        self.type = type
        self.publicKey = publicKey
        keyID = Self.keyID(name: name, type: type, publicKey: publicKey)
    }

    /// Parses a verifier key, refusing any other spelling of the same key and a key ID that does not match.
    public init(parsing text: [UInt8]) throws(TransparencyLogError) {
        // Names hold no `+`, base64 may: the key is all that follows the second one (as Go's sumdb/note reads it).
        let parts = text.split(separator: NoteText.plus, maxSplits: 2, omittingEmptySubsequences: false)
        guard text.count <= 1024, parts.count == 3, parts[1].count == 8,
            parts[1].allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }),
            let id = Hex.decode(String(decoding: parts[1], as: UTF8.self))
        else {
            throw TransparencyLogError(.malformedVerifierKey, "not NAME+HEXKEYID+BASE64 with 8 lower-case hex digits")
        }
        guard let name = String(validating: parts[0], as: UTF8.self) else {
            throw TransparencyLogError(.invalidKeyName, "the key name is not UTF-8")
        }
        let material: [UInt8]
        do {
            material = try NoteText.base64(parts[2])
        } catch {
            throw TransparencyLogError(.malformedVerifierKey, "the key is not canonical base64", underlying: error)
        }
        guard let typeByte = material.first, let type = NoteSignatureType(rawValue: typeByte) else {
            throw TransparencyLogError(.unsupportedKey, "signature type \(material.first.map { String($0) } ?? "none")")
        }
        try self.init(name: name, type: type, publicKey: Array(material.dropFirst()))
        let written = NoteText.uint32(id[...])
        guard written == keyID else {
            throw TransparencyLogError(.keyIDMismatch, "key ID \(Hex.encode(id)) for a key whose ID is \(Hex.encode(NoteText.bigEndian(keyID)))")
        }
    }

    /// Parses a verifier key from text.
    public init(parsing text: String) throws(TransparencyLogError) { try self.init(parsing: Array(text.utf8)) }

    /// The key written as `NAME+HEXKEYID+BASE64(TYPE || PUBLICKEY)`.
    public var encoded: String {
        "\(name)+\(Hex.encode(NoteText.bigEndian(keyID)).lowercased())+\(Base64.encode([type.rawValue] + publicKey))"
    }

    /// The key ID of a key: the first four bytes, big-endian, of SHA-256(name || 0x0A || type || public key).
    public static func keyID(name: String, type: NoteSignatureType, publicKey: [UInt8]) -> UInt32 {
        NoteText.uint32(SHA.sha256(Array(name.utf8) + [0x0A, type.rawValue] + publicKey)[...])
    }
}
