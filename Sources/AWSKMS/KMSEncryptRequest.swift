/// The body of `TrentService.Encrypt`: a plaintext of at most 4096 bytes to encrypt under a symmetric key.
public struct KMSEncryptRequest: Codable, Sendable, Hashable {
    /// The key: a key id, key ARN, alias name (`alias/...`) or alias ARN (1...2048 bytes).
    public var keyID: String
    /// The bytes to encrypt (1...4096).
    public var plaintext: [UInt8]
    /// Pairs bound to the ciphertext as additional authenticated data: `Decrypt` must be given the same ones.
    public var encryptionContext: [String: String]?

    /// A request to encrypt `plaintext` under `keyID`, bound to `encryptionContext`.
    public init(keyID: String, plaintext: [UInt8], encryptionContext: [String: String]? = nil) {
        self.keyID = keyID
        self.plaintext = plaintext
        self.encryptionContext = encryptionContext
    }

    enum CodingKeys: String, CodingKey {
        case keyID = "KeyId", plaintext = "Plaintext", encryptionContext = "EncryptionContext"
    }

    /// Decodes AWS's JSON, refusing non-canonical base64 and sizes past `KMSLimits`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        keyID = try c.decodeName(.keyID, max: KMSLimits.maxKeyID)
        plaintext = try c.decodeBytes(.plaintext, max: KMSLimits.maxPlaintext)
        encryptionContext = try c.decodeContextIfPresent(.encryptionContext)
    }

    /// Encodes AWS's JSON, the bytes in base64.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(keyID, forKey: .keyID)
        try c.encodeBytes(plaintext, forKey: .plaintext)
        try c.encodeIfPresent(encryptionContext, forKey: .encryptionContext)
    }
}
