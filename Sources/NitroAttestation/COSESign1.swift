import CBOR

/// A COSE_Sign1 structure (RFC 9052) as AWS Nitro uses it: ES384, empty unprotected header.
///
/// The protected header and payload are kept as the exact bytes received, because the signature
/// covers those bytes; nothing is ever re-encoded before verification.
public struct COSESign1: Sendable, Hashable {
    /// The protected header's bytes as received (for Nitro, `a1 01 38 22`: `{1: -35}`).
    public let protectedHeader: [UInt8]
    /// The payload's bytes as received.
    public let payload: [UInt8]
    /// The 96-byte raw signature, r || s.
    public let signature: [UInt8]
    /// Whether the structure carried tag 18.
    public let isTagged: Bool

    /// COSE algorithm identifier for ECDSA with SHA-384.
    public static let es384: Int64 = -35
    /// The CBOR tag of COSE_Sign1.
    public static let tag: UInt64 = 18
    /// Length of a raw P-384 signature.
    public static let signatureLength = 96

    /// Parses and checks the COSE_Sign1 rules Nitro documents follow.
    public init(_ item: CBOR) throws(AttestationError) {
        var item = item
        var tagged = false
        if case .tagged(let tag, let inner) = item {
            guard tag == Self.tag else {
                throw AttestationError(.invalidCOSETag, "tag \(tag), expected 18 (COSE_Sign1)")
            }
            item = inner
            tagged = true
        }
        guard let parts = item.array, parts.count == 4 else {
            throw AttestationError(.invalidCOSEStructure, "expected an array of 4 items, found \(Self.describe(item))")
        }
        guard let protected = parts[0].bytes else {
            throw AttestationError(.invalidProtectedHeader, "protected header is a \(parts[0].kindName), not a byte string")
        }
        let header: CBOR
        do {
            header = try CBORDecoder(limits: .init(maxInputSize: 64, maxDepth: 2, maxItems: 8)).decode(protected)
        } catch {
            throw AttestationError(.invalidProtectedHeader, "protected header is not CBOR: \(error)", underlying: error)
        }
        guard header == .map([.unsigned(1): .int(Self.es384)]) else {
            throw AttestationError(.invalidProtectedHeader, "protected header is \(header), expected {1: -35} (ES384)")
        }
        guard let unprotected = parts[1].map, unprotected.isEmpty else {
            throw AttestationError(.invalidUnprotectedHeader, "unprotected header is \(Self.describe(parts[1])), expected an empty map")
        }
        guard let payload = parts[2].bytes else {
            throw AttestationError(.invalidPayload, "payload is a \(parts[2].kindName), not a byte string")
        }
        guard let signature = parts[3].bytes, signature.count == Self.signatureLength else {
            throw AttestationError(.invalidSignatureLength, "signature is \(Self.describe(parts[3])), expected 96 bytes")
        }
        self.protectedHeader = protected
        self.payload = payload
        self.signature = signature
        self.isTagged = tagged
    }

    /// The bytes the signature covers: `["Signature1", protected, h'', payload]`, built from the bytes as received.
    public var signedBytes: [UInt8] { Self.signedBytes(protectedHeader: protectedHeader, payload: payload) }

    /// The Sig_structure for a protected header and payload, both as raw bytes (RFC 9052, section 4.4).
    public static func signedBytes(protectedHeader: [UInt8], payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(payload.count + protectedHeader.count + 24)
        CBOREncoder.appendHead(major: 4, 4, to: &out)
        CBOREncoder.append(.text("Signature1"), to: &out)
        CBOREncoder.appendHead(major: 2, UInt64(protectedHeader.count), to: &out)
        out.append(contentsOf: protectedHeader)
        CBOREncoder.appendHead(major: 2, 0, to: &out)
        CBOREncoder.appendHead(major: 2, UInt64(payload.count), to: &out)
        out.append(contentsOf: payload)
        return out
    }

    /// Encodes a COSE_Sign1 (tagged) from its parts; used to build documents, never to verify them.
    public static func encode(protectedHeader: [UInt8], payload: [UInt8], signature: [UInt8], tagged: Bool = true) -> [UInt8] {
        let body = CBOR.array([.bytes(protectedHeader), .map(CBORMap()), .bytes(payload), .bytes(signature)])
        return CBOREncoder.encode(tagged ? .tagged(tag, body) : body)
    }

    static func describe(_ item: CBOR) -> String {
        switch item {
        case .bytes(let b): return "a byte string of \(b.count) bytes"
        case .array(let a): return "an array of \(a.count) items"
        case .map(let m): return "a map of \(m.count) entries"
        default: return "a \(item.kindName)"
        }
    }
}
