/// The bounds the KMS messages are checked against, on both sides: the client refuses to send or accept a message
/// past them, and an emulated KMS decoding a request with the same types refuses it too.
public enum KMSLimits {
    /// A plaintext: AWS's limit for `Encrypt` (4096 bytes); also the bound on a `Plaintext` answered.
    public static let maxPlaintext = 4096
    /// A `CiphertextBlob`, a `CiphertextForRecipient` or an `AttestationDocument`.
    public static let maxCiphertext = 64 * 1024
    /// `NumberOfBytes` for `GenerateRandom`, as AWS allows.
    public static let numberOfBytes = 1...1024
    /// A `KeyId` (id, ARN, alias name or alias ARN), as AWS allows.
    public static let maxKeyID = 2048
    /// The encryption context: the UTF-8 bytes of every key and value together, as AWS allows.
    public static let maxEncryptionContext = 8192
    /// A short name such as `EncryptionAlgorithm`.
    public static let maxName = 128
    /// The body of an answer: a `CiphertextForRecipient` of `maxCiphertext` bytes in base64 with room to spare.
    public static let maxAnswerBytes = 128 * 1024
}
