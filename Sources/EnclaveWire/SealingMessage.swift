import CBOR

/// The `sealing` channel: how the enclave has its master secret sealed and unsealed by a sealing service that
/// releases it only to a document whose PCRs meet the policy the secret was sealed under (AWS KMS with a
/// PCR key policy on Nitro; the host's emulated service in emulation). The secret travels to the enclave only
/// encrypted (HPKE) to the X25519 key in the requesting document. One message per `data` frame.
public enum SealingMessage: Sendable, Hashable {
    /// Enclave → service: make a new secret for `document`'s PCRs.
    case generate(id: UInt64, document: [UInt8])
    /// Enclave → service: release the secret in `sealed` to `document`.
    case unseal(id: UInt64, document: [UInt8], sealed: [UInt8])
    /// Service → enclave: the new secret's sealed blob (to keep) and the secret, HPKE-encrypted to the document.
    case generated(id: UInt64, sealed: [UInt8], enc: [UInt8], ciphertext: [UInt8])
    /// Service → enclave: the secret, HPKE-encrypted to the document.
    case released(id: UInt64, enc: [UInt8], ciphertext: [UInt8])
    /// Service → enclave: refused, with a stable code (`pcrPolicyMismatch`, `attestationInvalid`, ...).
    case refused(id: UInt64, code: String, reason: String)

    public static let maxDocument = 16 * 1024
    public static let maxBlob = 4096

    enum Tag: UInt64 { case generate = 0, unseal = 1, generated = 2, released = 3, refused = 4 }

    public var encoded: [UInt8] {
        let item: CBOR
        switch self {
        case .generate(let id, let d): item = [.unsigned(Tag.generate.rawValue), .unsigned(id), .bytes(d)]
        case .unseal(let id, let d, let s): item = [.unsigned(Tag.unseal.rawValue), .unsigned(id), .bytes(d), .bytes(s)]
        case .generated(let id, let s, let e, let c): item = [.unsigned(Tag.generated.rawValue), .unsigned(id), .bytes(s), .bytes(e), .bytes(c)]
        case .released(let id, let e, let c): item = [.unsigned(Tag.released.rawValue), .unsigned(id), .bytes(e), .bytes(c)]
        case .refused(let id, let code, let reason): item = [.unsigned(Tag.refused.rawValue), .unsigned(id), .text(code), .text(reason)]
        }
        return CBOREncoder.encode(item)
    }

    public init(encoded input: [UInt8]) throws(WireError) {
        let item: CBOR
        do {
            item = try CBORDecoder(limits: .init(maxInputSize: Self.maxDocument + Self.maxBlob + 256, maxDepth: 1, maxItems: 8)).decode(input)
        } catch {
            throw WireError(.malformedCBOR, "\(error)")
        }
        guard let f = item.array, let raw = f.first?.uint64, let tag = Tag(rawValue: raw), f.count >= 2, let id = f[1].uint64 else {
            throw WireError(.malformedMessage, "not a [type, id, fields...] sealing message")
        }
        func field(_ i: Int, max: Int) throws(WireError) -> [UInt8] {
            guard let b = f[i].bytes, !b.isEmpty, b.count <= max else { throw WireError(.malformedMessage, "sealing field \(i) must be 1 to \(max) bytes") }
            return b
        }
        switch (tag, f.count) {
        case (.generate, 3): self = .generate(id: id, document: try field(2, max: Self.maxDocument))
        case (.unseal, 4): self = .unseal(id: id, document: try field(2, max: Self.maxDocument), sealed: try field(3, max: Self.maxBlob))
        case (.generated, 5):
            self = .generated(id: id, sealed: try field(2, max: Self.maxBlob), enc: try field(3, max: 64), ciphertext: try field(4, max: 256))
        case (.released, 4): self = .released(id: id, enc: try field(2, max: 64), ciphertext: try field(3, max: 256))
        case (.refused, 4):
            guard let code = f[2].text, let reason = f[3].text else { throw WireError(.malformedMessage, "refused fields") }
            self = .refused(id: id, code: String(code.prefix(64)), reason: String(reason.prefix(512)))
        default:
            throw WireError(.malformedMessage, "sealing message \(tag) with \(f.count - 1) fields")
        }
    }
}
