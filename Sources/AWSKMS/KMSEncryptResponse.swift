/// The answer to `TrentService.Encrypt`.
public struct KMSEncryptResponse: Codable, Sendable, Hashable {
    /// The ciphertext (1...64 KiB), to be given back to `Decrypt` as is.
    public var ciphertextBlob: [UInt8]
    /// The ARN of the key that encrypted.
    public var keyID: String
    /// The algorithm used (`SYMMETRIC_DEFAULT`), when KMS says.
    public var encryptionAlgorithm: String?

    /// An answer carrying `ciphertextBlob` made under `keyID`.
    public init(ciphertextBlob: [UInt8], keyID: String, encryptionAlgorithm: String? = nil) {
        self.ciphertextBlob = ciphertextBlob
        self.keyID = keyID
        self.encryptionAlgorithm = encryptionAlgorithm
    }

    enum CodingKeys: String, CodingKey {
        case ciphertextBlob = "CiphertextBlob", keyID = "KeyId", encryptionAlgorithm = "EncryptionAlgorithm"
    }

    /// Decodes AWS's JSON, refusing non-canonical base64 and sizes past `KMSLimits`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ciphertextBlob = try c.decodeBytes(.ciphertextBlob, max: KMSLimits.maxCiphertext)
        keyID = try c.decodeName(.keyID, max: KMSLimits.maxKeyID)
        encryptionAlgorithm = try c.decodeNameIfPresent(.encryptionAlgorithm, max: KMSLimits.maxName)
    }

    /// Encodes AWS's JSON, the bytes in base64.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeBytes(ciphertextBlob, forKey: .ciphertextBlob)
        try c.encode(keyID, forKey: .keyID)
        try c.encodeIfPresent(encryptionAlgorithm, forKey: .encryptionAlgorithm)
    }
}
