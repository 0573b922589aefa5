/// The answer to `TrentService.GenerateRandom`: the bytes, or with a recipient only `CiphertextForRecipient`.
public struct KMSGenerateRandomResponse: Codable, Sendable, Hashable {
    /// The random bytes (1...4096 are decoded; the client requires exactly `NumberOfBytes`).
    public var plaintext: [UInt8]?
    /// The bytes as CMS EnvelopedData encrypted to the recipient's key (1...64 KiB).
    public var ciphertextForRecipient: [UInt8]?

    /// An answer with the given fields.
    public init(plaintext: [UInt8]? = nil, ciphertextForRecipient: [UInt8]? = nil) {
        self.plaintext = plaintext
        self.ciphertextForRecipient = ciphertextForRecipient
    }

    enum CodingKeys: String, CodingKey {
        case plaintext = "Plaintext", ciphertextForRecipient = "CiphertextForRecipient"
    }

    /// Decodes AWS's JSON, refusing non-canonical base64 and sizes past `KMSLimits`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        plaintext = try c.decodePlaintextIfPresent(.plaintext, max: KMSLimits.maxPlaintext)
        ciphertextForRecipient = try c.decodeBytesIfPresent(.ciphertextForRecipient, max: KMSLimits.maxCiphertext)
    }

    /// Encodes AWS's JSON, the bytes in base64; absent fields are left out.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeBytesIfPresent(plaintext, forKey: .plaintext)
        try c.encodeBytesIfPresent(ciphertextForRecipient, forKey: .ciphertextForRecipient)
    }
}
