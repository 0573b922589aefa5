import CBOR
import Testing

@testable import NitroAttestation

/// Rebuilds a real document with one thing changed, keeping every other byte as it was.
struct DocumentMutator {
    let original: [UInt8]
    var protectedHeader: CBOR
    var unprotectedHeader: CBOR
    var payload: CBOR
    var signature: CBOR
    var tag: UInt64? = 18

    init(_ bytes: [UInt8]) throws {
        original = bytes
        var item = try CBORDecoder.decode(bytes)
        if case .tagged(_, let inner) = item { item = inner } else { tag = nil }
        let parts = try #require(item.array)
        protectedHeader = parts[0]
        unprotectedHeader = parts[1]
        payload = parts[2]
        signature = parts[3]
    }

    /// The payload as a map, to edit.
    var payloadMap: CBORMap {
        get { (try? CBORDecoder.decode(payload.bytes ?? []).map) ?? CBORMap() }
        set { payload = .bytes(CBOREncoder.encode(.map(newValue))) }
    }

    subscript(field: String) -> CBOR? {
        get { payloadMap[.text(field)] }
        set {
            var m = payloadMap
            m[.text(field)] = newValue
            payloadMap = m
        }
    }

    var bytes: [UInt8] {
        let body = CBOR.array([protectedHeader, unprotectedHeader, payload, signature])
        return CBOREncoder.encode(tag.map { .tagged($0, body) } ?? body)
    }

    /// The code verification at the document's own time fails with, or nil when it verifies.
    static func failure(_ bytes: [UInt8], roots: TrustedRoots = .aws, at time: ValidationTime = .documentTimestamp) -> AttestationError.Code? {
        do {
            _ = try AttestationVerifier(roots: roots, cache: nil).verify(bytes, at: time)
            return nil
        } catch {
            return error.code
        }
    }
}

/// The first real document, and one whose payload uses an indefinite-length map.
enum Samples {
    static var any: [UInt8]? { Corpus.real.first.flatMap { try? Corpus.bytes($0) } }
    static var indefinitePayload: [UInt8]? {
        Corpus.real.lazy.compactMap { try? Corpus.bytes($0) }.first { doc in
            (try? DocumentMutator(doc))?.payload.bytes?.first == 0xBF
        }
    }
}
