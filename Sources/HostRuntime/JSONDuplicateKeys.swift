import Foundation

/// Finds a key that a JSON object names twice at its top level. Parsers disagree on which of the two counts (the
/// first, the last, an error), so a body that names one twice reads one way to the host and another way to whatever
/// stood in front of it; the API refuses such bodies rather than pick one.
enum JSONDuplicateKeys {
    /// The first top-level key of `text` that appeared before, unescaped, or nil. `text` must be a JSON object that a
    /// parser has already accepted: this only tells keys from values and strings from structure.
    static func first(in text: [UInt8]) -> String? {
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\"), colon = UInt8(ascii: ":")
        let whitespace: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0D]
        var seen: Set<String> = []
        var depth = 0
        var i = 0
        while i < text.count {
            switch text[i] {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                i += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                i += 1
            case quote:
                var end = i + 1
                while end < text.count && text[end] != quote { end += text[end] == backslash ? 2 : 1 }
                end = min(end + 1, text.count)
                var next = end
                while next < text.count && whitespace.contains(text[next]) { next += 1 }
                // At depth 1 (inside the top-level object), a string followed by a colon is a key.
                if depth == 1 && next < text.count && text[next] == colon {
                    let key = (try? JSONDecoder().decode(String.self, from: Data(text[i..<end]))) ?? String(decoding: text[i..<end], as: UTF8.self)
                    if !seen.insert(key).inserted { return key }
                }
                i = end
            default:
                i += 1
            }
        }
        return nil
    }
}
