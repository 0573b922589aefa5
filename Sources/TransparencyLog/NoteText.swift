import NitroAttestation

/// The strict readers the note formats share: canonical base64, canonical decimals and key names.
enum NoteText {
    static let newline = UInt8(ascii: "\n")
    static let space = UInt8(ascii: " ")
    static let plus = UInt8(ascii: "+")

    /// The bytes of `text` when it is standard, padded base64 exactly as `Base64.encode` writes those bytes: no
    /// URL-safe alphabet, missing padding or stray low bits, so that each value has one encoding.
    static func base64(_ text: ArraySlice<UInt8>) throws(TransparencyLogError) -> [UInt8] {
        guard text.count % 4 == 0, let bytes = Base64.decode(String(decoding: text, as: UTF8.self)),
            Array(Base64.encode(bytes).utf8) == Array(text)
        else {
            throw TransparencyLogError(.nonCanonicalBase64, "not canonical base64 (\(text.count) characters)")
        }
        return bytes
    }

    /// The value of an ASCII decimal with no sign and no leading zero (except `0` itself) that fits in 64 bits.
    static func decimal(_ text: ArraySlice<UInt8>) -> UInt64? {
        guard let first = text.first, text.count <= 20, first != UInt8(ascii: "0") || text.count == 1 else { return nil }
        var value: UInt64 = 0
        for c in text {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(c - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            value = sum
        }
        return value
    }

    /// Throws `invalidKeyName` unless `name` is a valid key name: 1 to `SignedNote.maxNameBytes` bytes of UTF-8
    /// with no Unicode space, no control character and no `+`.
    static func checkName(_ name: some StringProtocol) throws(TransparencyLogError) {
        let bytes = name.utf8.count
        guard bytes > 0, bytes <= SignedNote.maxNameBytes,
            name.unicodeScalars.allSatisfy({ !$0.properties.isWhitespace && $0.value >= 0x20 && $0 != "+" })
        else {
            throw TransparencyLogError(.invalidKeyName, "a key name is 1...\(SignedNote.maxNameBytes) bytes, no space or +")
        }
    }

    /// The big-endian 32-bit integer at the start of `bytes` (at least 4).
    static func uint32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        bytes.prefix(4).reduce(0) { $0 << 8 | UInt32($1) }
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) } }
    static func bigEndian(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) } }
}
