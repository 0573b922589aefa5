/// The answer to `TrentService.Decrypt`: the plaintext, or with a recipient only `CiphertextForRecipient`.
public struct KMSDecryptResponse: Codable, Sendable, Hashable {
    /// The ARN of the key that decrypted.
    public var keyID: String?
    /// The plaintext (1...4096 bytes); absent when the request named a recipient.
    public var plaintext: [UInt8]?
    /// The plaintext as CMS EnvelopedData encrypted to the recipient's key (1...64 KiB).
    public var ciphertextForRecipient: [UInt8]?
    /// The algorithm used (`SYMMETRIC_DEFAULT`), when KMS says.
    public var encryptionAlgorithm: String?

    /// An answer with the given fields.
    public init(
        keyID: String? = nil,
        plaintext: [UInt8]? = nil,
        ciphertextForRecipient: [UInt8]? = nil,
        encryptionAlgorithm: String? = nil
    ) {
        self.keyID = keyID
        self.plaintext = plaintext
        self.ciphertextForRecipient = ciphertextForRecipient
        self.encryptionAlgorithm = encryptionAlgorithm
    }

    enum CodingKeys: String, CodingKey {
        case keyID = "KeyId", plaintext = "Plaintext", ciphertextForRecipient = "CiphertextForRecipient"
        case encryptionAlgorithm = "EncryptionAlgorithm"
    }

    /// Decodes AWS's JSON, refusing non-canonical base64 and sizes past `KMSLimits`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        keyID = try c.decodeNameIfPresent(.keyID, max: KMSLimits.maxKeyID)
        plaintext = try c.decodePlaintextIfPresent(.plaintext, max: KMSLimits.maxPlaintext)
        ciphertextForRecipient = try c.decodeBytesIfPresent(.ciphertextForRecipient, max: KMSLimits.maxCiphertext)
        encryptionAlgorithm = try c.decodeNameIfPresent(.encryptionAlgorithm, max: KMSLimits.maxName)
    }

    /// Encodes AWS's JSON, the bytes in base64; absent fields are left out.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(keyID, forKey: .keyID)
        try c.encodeBytesIfPresent(plaintext, forKey: .plaintext)
        try c.encodeBytesIfPresent(ciphertextForRecipient, forKey: .ciphertextForRecipient)
        try c.encodeIfPresent(encryptionAlgorithm, forKey: .encryptionAlgorithm)
    }
}
