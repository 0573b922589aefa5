/// The `Recipient` of `Decrypt` or `GenerateRandom`: KMS encrypts the answer to the public key in a Nitro
/// attestation document (as `CiphertextForRecipient`) instead of returning the plaintext.
public struct KMSRecipientInfo: Codable, Sendable, Hashable {
    /// The only key encryption algorithm KMS offers for recipients.
    public static let rsaesOAEPSHA256 = "RSAES_OAEP_SHA_256"

    /// The attestation document (COSE_Sign1, 1...64 KiB) whose `public_key` the answer is encrypted to.
    public var attestationDocument: [UInt8]
    /// Always `RSAES_OAEP_SHA_256`; decoding refuses any other.
    public var keyEncryptionAlgorithm: String

    /// A recipient for `attestationDocument`.
    public init(attestationDocument: [UInt8], keyEncryptionAlgorithm: String = Self.rsaesOAEPSHA256) {
        self.attestationDocument = attestationDocument
        self.keyEncryptionAlgorithm = keyEncryptionAlgorithm
    }

    enum CodingKeys: String, CodingKey {
        case attestationDocument = "AttestationDocument", keyEncryptionAlgorithm = "KeyEncryptionAlgorithm"
    }

    /// Decodes AWS's JSON; the algorithm must be `RSAES_OAEP_SHA_256`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        attestationDocument = try c.decodeBytes(.attestationDocument, max: KMSLimits.maxCiphertext)
        keyEncryptionAlgorithm = try c.decode(String.self, forKey: .keyEncryptionAlgorithm)
        guard keyEncryptionAlgorithm == Self.rsaesOAEPSHA256 else {
            throw DecodingError.dataCorruptedError(
                forKey: .keyEncryptionAlgorithm,
                in: c,
                debugDescription: "only \(Self.rsaesOAEPSHA256) is offered"
            )
        }
    }

    /// Encodes AWS's JSON, the document in base64.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeBytes(attestationDocument, forKey: .attestationDocument)
        try c.encode(keyEncryptionAlgorithm, forKey: .keyEncryptionAlgorithm)
    }
}
