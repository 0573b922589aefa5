/// The body of `TrentService.Decrypt`.
public struct KMSDecryptRequest: Codable, Sendable, Hashable {
    /// The ciphertext `Encrypt` answered (1...64 KiB).
    public var ciphertextBlob: [UInt8]
    /// The encryption context the ciphertext was made with; any other is refused (`invalidCiphertext`).
    public var encryptionContext: [String: String]?
    /// The key the ciphertext must be under; KMS refuses one made under another (`incorrectKey`).
    public var keyID: String?
    /// When given, the plaintext is answered only as `CiphertextForRecipient`, encrypted to the document's key.
    public var recipient: KMSRecipientInfo?

    /// A request to decrypt `ciphertextBlob`.
    public init(
        ciphertextBlob: [UInt8],
        encryptionContext: [String: String]? = nil,
        keyID: String? = nil,
        recipient: KMSRecipientInfo? = nil
    ) {
        self.ciphertextBlob = ciphertextBlob
        self.encryptionContext = encryptionContext
        self.keyID = keyID
        self.recipient = recipient
    }

    enum CodingKeys: String, CodingKey {
        case ciphertextBlob = "CiphertextBlob", encryptionContext = "EncryptionContext", keyID = "KeyId"
        case recipient = "Recipient"
    }

    /// Decodes AWS's JSON, refusing non-canonical base64 and sizes past `KMSLimits`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ciphertextBlob = try c.decodeBytes(.ciphertextBlob, max: KMSLimits.maxCiphertext)
        encryptionContext = try c.decodeContextIfPresent(.encryptionContext)
        keyID = try c.decodeNameIfPresent(.keyID, max: KMSLimits.maxKeyID)
        recipient = try c.decodeIfPresent(KMSRecipientInfo.self, forKey: .recipient)
    }

    /// Encodes AWS's JSON, the bytes in base64.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeBytes(ciphertextBlob, forKey: .ciphertextBlob)
        try c.encodeIfPresent(encryptionContext, forKey: .encryptionContext)
        try c.encodeIfPresent(keyID, forKey: .keyID)
        try c.encodeIfPresent(recipient, forKey: .recipient)
    }
}
