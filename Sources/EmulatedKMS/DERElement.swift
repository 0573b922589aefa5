import COpenSSL

/// One DER element (ITU-T X.690 section 10) and what it contains: the one encoder of the envelopes the emulated
/// KMS writes. Tags are single octets (universal, or context-specific below 31); lengths are definite and minimal.
struct DERElement: Sendable {
    private let tag: UInt8
    private let contents: Contents

    private enum Contents: Sendable {
        case primitive([UInt8])
        case constructed([DERElement])
    }

    /// A primitive element with tag octet `tag` and `contents`.
    static func primitive(_ tag: UInt8, _ contents: [UInt8]) -> DERElement {
        DERElement(tag: tag, contents: .primitive(contents))
    }

    /// A constructed element with tag octet `tag` holding `elements` in order.
    static func constructed(_ tag: UInt8, _ elements: [DERElement]) -> DERElement {
        DERElement(tag: tag | 0x20, contents: .constructed(elements))
    }

    static func sequence(_ elements: [DERElement]) -> DERElement { constructed(0x30, elements) }

    /// A SET holding one element (a SET OF with more would have to be sorted, X.690 11.6).
    static func set(of element: DERElement) -> DERElement { constructed(0x31, [element]) }

    /// A small non-negative INTEGER: one octet, below 128.
    static func integer(_ value: UInt8) -> DERElement {
        precondition(value < 0x80, "a one-octet INTEGER is below 128")
        return primitive(0x02, [value])
    }

    static func octetString(_ bytes: [UInt8]) -> DERElement { primitive(0x04, bytes) }

    static let null = primitive(0x05, [])

    /// The OBJECT IDENTIFIER libcrypto knows as `nid`, in libcrypto's own encoding.
    static func objectIdentifier(_ nid: Int32) -> DERElement {
        guard let object = OBJ_nid2obj(nid), let data = OBJ_get0_data(object) else {
            preconditionFailure("libcrypto has no object identifier for NID \(nid)")
        }
        return primitive(0x06, Array(UnsafeBufferPointer(start: data, count: OBJ_length(object))))
    }

    /// The element's DER encoding: tag, length, contents.
    var encoded: [UInt8] {
        var out: [UInt8] = []
        append(to: &out)
        return out
    }

    private func append(to out: inout [UInt8]) {
        let body: [UInt8]
        switch contents {
        case .primitive(let bytes): body = bytes
        case .constructed(let elements):
            var inner: [UInt8] = []
            for element in elements { element.append(to: &inner) }
            body = inner
        }
        out.append(tag)
        out += Self.length(body.count)
        out += body
    }

    /// The definite length octets of `count`: short form below 128, else the fewest octets (X.690 10.1).
    private static func length(_ count: Int) -> [UInt8] {
        guard count >= 0x80 else { return [UInt8(count)] }
        var octets: [UInt8] = []
        var rest = count
        while rest > 0 {
            octets.insert(UInt8(rest & 0xFF), at: 0)
            rest >>= 8
        }
        return [0x80 | UInt8(octets.count)] + octets
    }
}
