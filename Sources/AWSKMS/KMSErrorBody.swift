/// The body of a KMS error answer: `{"__type": "NotFoundException", "message": "..."}`. AWS writes the message as
/// `message` or `Message`; both are read, `message` is written.
public struct KMSErrorBody: Codable, Sendable, Hashable {
    /// The AWS error name, bare or with a namespace (`com.amazonaws.kms#NotFoundException`).
    public var type: String
    /// What KMS said, if anything.
    public var message: String?

    /// A body for `type` with `message`.
    public init(type: String, message: String? = nil) {
        self.type = type
        self.message = message
    }

    /// A body for `code`'s AWS name (`ValidationException` for `validation`); `other` and the client's own codes
    /// have none and are written as `KMSInternalException`.
    public init(code: KMSErrorCode, message: String? = nil) {
        self.init(type: KMSErrorCode.awsType(for: code) ?? "KMSInternalException", message: message)
    }

    /// The code `type` maps to.
    public var code: KMSErrorCode { KMSErrorCode(awsType: type) }

    enum CodingKeys: String, CodingKey {
        case type = "__type", message, capitalMessage = "Message"
    }

    /// Decodes `__type` (required, 1...256 bytes) and `message` or `Message` (at most 4096 bytes are kept).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decodeName(.type, max: 256)
        let text =
            try c.decodeIfPresent(String.self, forKey: .message)
            ?? c.decodeIfPresent(String.self, forKey: .capitalMessage)
        message = text.map { String($0.prefix(4096)) }
    }

    /// Encodes `__type` and `message`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(type, forKey: .type)
        try c.encodeIfPresent(message, forKey: .message)
    }
}
