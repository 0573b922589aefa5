import NitroAttestation

/// base64url without padding (RFC 4648, section 5), as WebAuthn carries challenges in client data.
///
/// Decoding is strict: only the URL-safe alphabet, no padding, no whitespace, and the unused low bits of the
/// last character zero, so that each byte string has exactly one text.
public enum Base64URL {
    /// The unpadded base64url text of `bytes`.
    public static func encode(_ bytes: [UInt8]) -> String {
        String(
            Base64.encode(bytes).compactMap { c -> Character? in
                switch c {
                case "+": return "-"
                case "/": return "_"
                case "=": return nil
                default: return c
                }
            }
        )
    }

    /// The bytes of unpadded base64url text, or nil when it is not exactly the encoding of some bytes.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let urlSafe = text.utf8.allSatisfy { c in
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"):
                return true
            default: return false
            }
        }
        // The lenient decoder reads the characters; encoding its bytes again must give the text back, which
        // refuses a lone last character and unused bits that are not zero.
        guard urlSafe, let bytes = Base64.decode(text), encode(bytes).utf8.elementsEqual(text.utf8) else { return nil }
        return bytes
    }
}
