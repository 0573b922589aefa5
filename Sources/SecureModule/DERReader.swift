/// Reads DER one element at a time: one-byte tags, definite minimal lengths. Used only on encodings libcrypto
/// wrote itself, to reach the few fields of a CMS structure libcrypto has no getter for.
struct DERReader {
    private var rest: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) { rest = bytes }

    /// Whether every byte has been read.
    var isAtEnd: Bool { rest.isEmpty }

    /// The tag of the next element, without reading it.
    var nextTag: UInt8? { rest.first }

    /// The next element's tag and contents, or nil if what follows is not one complete DER element.
    mutating func read() -> (tag: UInt8, contents: ArraySlice<UInt8>)? {
        guard rest.count >= 2 else { return nil }
        let tag = rest[rest.startIndex]
        guard tag & 0x1F != 0x1F else { return nil }
        var index = rest.startIndex + 1
        let first = rest[index]
        index += 1
        var length = Int(first)
        if first & 0x80 != 0 {
            let octets = Int(first & 0x7F)
            guard (1...3).contains(octets), rest.endIndex - index >= octets, rest[index] != 0 else { return nil }
            length = rest[index..<index + octets].reduce(0) { $0 << 8 | Int($1) }
            guard length >= 0x80 else { return nil }
            index += octets
        }
        guard rest.endIndex - index >= length else { return nil }
        let contents = rest[index..<index + length]
        rest = rest[(index + length)...]
        return (tag, contents)
    }

    /// The contents of the next element if its tag is `tag`, else nil.
    mutating func read(_ tag: UInt8) -> ArraySlice<UInt8>? {
        guard nextTag == tag, let element = read() else { return nil }
        return element.contents
    }
}
