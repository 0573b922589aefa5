/// The body of `TrentService.GenerateRandom`.
public struct KMSGenerateRandomRequest: Codable, Sendable, Hashable {
    /// How many random bytes (1...1024).
    public var numberOfBytes: Int
    /// When given, the bytes are answered only as `CiphertextForRecipient`, encrypted to the document's key.
    public var recipient: KMSRecipientInfo?

    /// A request for `numberOfBytes` random bytes.
    public init(numberOfBytes: Int, recipient: KMSRecipientInfo? = nil) {
        self.numberOfBytes = numberOfBytes
        self.recipient = recipient
    }

    enum CodingKeys: String, CodingKey {
        case numberOfBytes = "NumberOfBytes", recipient = "Recipient"
    }

    /// Decodes AWS's JSON; `NumberOfBytes` must be within `KMSLimits.numberOfBytes`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        numberOfBytes = try c.decode(Int.self, forKey: .numberOfBytes)
        guard KMSLimits.numberOfBytes.contains(numberOfBytes) else {
            throw DecodingError.dataCorruptedError(
                forKey: .numberOfBytes,
                in: c,
                debugDescription: "\(numberOfBytes); \(KMSLimits.numberOfBytes) accepted"
            )
        }
        recipient = try c.decodeIfPresent(KMSRecipientInfo.self, forKey: .recipient)
    }

    /// Encodes AWS's JSON.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(numberOfBytes, forKey: .numberOfBytes)
        try c.encodeIfPresent(recipient, forKey: .recipient)
    }
}
