/// Client data (W3C WebAuthn, section 5.8.1): what the browser says about the ceremony, as the JSON whose
/// SHA-256 the authenticator signs.
///
/// Parsed from the bytes as received, strictly (`JSONReader`): one object, no member named twice, bounded in
/// size and depth. Members other than these five are read and ignored, as the specification asks (browsers add
/// some, such as Chromium's `other_keys_can_be_added_here`).
public struct ClientData: Sendable, Hashable {
    /// "webauthn.create" for a registration, "webauthn.get" for an assertion.
    public var type: String
    /// The challenge the relying party sent, decoded from unpadded base64url.
    public var challenge: [UInt8]
    /// The origin of the page that ran the ceremony, as the browser serialised it.
    public var origin: String
    /// Whether the ceremony ran in a frame not same-origin with its ancestors (absent reads as false).
    public var crossOrigin: Bool
    /// The top-level origin, present only for a cross-origin ceremony.
    public var topOrigin: String?

    /// The `type` of a registration.
    public static let createType = "webauthn.create"
    /// The `type` of an assertion.
    public static let getType = "webauthn.get"
    /// Largest clientDataJSON accepted; browsers send about 200 bytes.
    public static let maxSize = 4096
    /// Deepest nesting accepted; the top-level object is depth 1.
    public static let maxDepth = 8

    /// Client data from its parts.
    public init(type: String, challenge: [UInt8], origin: String, crossOrigin: Bool = false, topOrigin: String? = nil) {
        self.type = type
        self.challenge = challenge
        self.origin = origin
        self.crossOrigin = crossOrigin
        self.topOrigin = topOrigin
    }

    /// Parses clientDataJSON as the browser sent it.
    public init(json bytes: [UInt8]) throws(WebAuthnError) {
        guard bytes.count <= Self.maxSize else {
            throw JSONReader.malformed("is \(bytes.count) bytes; at most \(Self.maxSize) accepted")
        }
        var fields: [String: JSONReader.Value] = [:]
        for member in try JSONReader.members(of: bytes, maxDepth: Self.maxDepth) {
            let name = Array(member.name.utf8)
            // Compared as bytes: a name canonically equivalent to a known one is another, unknown, member.
            if let known = ["type", "challenge", "origin", "crossOrigin", "topOrigin"].first(where: {
                Array($0.utf8) == name
            }) {
                fields[known] = member.value
            }
        }
        func string(_ name: String) throws(WebAuthnError) -> String? {
            switch fields[name] {
            case nil: return nil
            case .string(let s)?: return s
            default: throw JSONReader.malformed("member \(name) is not a string")
            }
        }
        guard let type = try string("type") else { throw JSONReader.malformed("has no type") }
        guard let challengeText = try string("challenge") else { throw JSONReader.malformed("has no challenge") }
        guard let challenge = Base64URL.decode(challengeText) else {
            throw JSONReader.malformed("challenge \"\(challengeText.prefix(64))\" is not unpadded base64url")
        }
        guard let origin = try string("origin") else { throw JSONReader.malformed("has no origin") }
        switch fields["crossOrigin"] {
        case nil: crossOrigin = false
        case .bool(let b)?: crossOrigin = b
        default: throw JSONReader.malformed("member crossOrigin is not a boolean")
        }
        self.type = type
        self.challenge = challenge
        self.origin = origin
        self.topOrigin = try string("topOrigin")
    }

    /// The serialisation browsers produce (section 5.8.1.1): type, challenge, origin, crossOrigin, then
    /// topOrigin when present, each string written with CCDToString's escapes.
    public var serialized: [UInt8] {
        var out = Array("{\"type\":".utf8)
        Self.append(type, to: &out)
        out += Array(",\"challenge\":".utf8)
        Self.append(Base64URL.encode(challenge), to: &out)
        out += Array(",\"origin\":".utf8)
        Self.append(origin, to: &out)
        out += Array((crossOrigin ? ",\"crossOrigin\":true" : ",\"crossOrigin\":false").utf8)
        if let topOrigin {
            out += Array(",\"topOrigin\":".utf8)
            Self.append(topOrigin, to: &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// CCDToString: a quoted string with '"' and '\' escaped by a backslash and control characters as \u00XX.
    private static func append(_ string: String, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), byte]
            case 0x00..<0x20: out += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
