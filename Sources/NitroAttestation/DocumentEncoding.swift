/// How a document file is written: raw CBOR, hex text or base64 text (standard or URL-safe alphabet).
public enum DocumentEncoding: String, Sendable, CaseIterable {
    case cbor, hex, base64

    /// Largest file accepted as a document in any encoding (base64 of the largest document, with line breaks).
    public static let maxFileSize = 128 * 1024

    /// Decodes file contents into document bytes and says which encoding they were in.
    ///
    /// Raw CBOR is recognised by its first byte (0xD2: tag 18; 0x84: array of four). Anything else must be
    /// hex or base64 text; whitespace is ignored in both.
    public static func decode(_ contents: [UInt8]) throws(AttestationError) -> (bytes: [UInt8], encoding: DocumentEncoding) {
        guard contents.count <= maxFileSize else {
            throw AttestationError(.unreadableInput, "\(contents.count) bytes; a document file is at most \(maxFileSize)")
        }
        guard let first = contents.first else { throw AttestationError(.unreadableInput, "the input is empty") }
        if first == 0xD2 || first == 0x84 { return (contents, .cbor) }
        let text = contents.filter { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }
        if let bytes = Hex.decode(String(decoding: text, as: UTF8.self)), !bytes.isEmpty { return (bytes, .hex) }
        if let bytes = base64(text), !bytes.isEmpty { return (bytes, .base64) }
        throw AttestationError(.unreadableInput, "neither CBOR (first byte 0x\(Hex.encode([first]))), hex nor base64")
    }

    /// Decodes base64 (standard or URL-safe, padding optional); nil on any other character.
    static func base64(_ text: [UInt8]) -> [UInt8]? {
        var body = text[...]
        while body.last == UInt8(ascii: "=") { body = body.dropLast() }
        guard text.count - body.count <= 2 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(body.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for c in body {
            let v: UInt8
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = c - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = c - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0") + 52
            case UInt8(ascii: "+"), UInt8(ascii: "-"): v = 62
            case UInt8(ascii: "/"), UInt8(ascii: "_"): v = 63
            default: return nil
            }
            accumulator = accumulator << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        // A lone trailing character (6 bits) cannot end a base64 string.
        guard bits < 6 else { return nil }
        return out
    }
}
