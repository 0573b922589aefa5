import CBOR

/// The `sealing` channel of the emulated sealing service, a stand-in for AWS KMS: it seals whatever secret it is
/// given (as KMS `Encrypt` does for any caller with the permission) and releases a sealed secret only to an
/// attestation document whose PCRs its key policy authorises (as KMS `Decrypt` with a `Recipient` does). It never
/// makes a secret: the enclave makes its master secret and only asks the service to wrap it.
///
/// Secrets travel only encrypted: to the service, HPKE to its X25519 key, which the emulated root certifies (the
/// stand-in for KMS's TLS certificate); to the enclave, HPKE to the key in the requesting document. One message
/// per `data` frame.
public enum SealingMessage: Sendable, Hashable {
    /// Client → service: which key do you seal under?
    case describe(id: UInt64)
    /// Service → client: its X25519 public key and the emulated root's ES384 signature over `SealingMessage.keyStatement(key)`.
    case serviceKey(id: UInt64, key: [UInt8], signature: [UInt8])
    /// Client → service: seal the secret HPKE-encrypted to the service key; `context` names the deployment (like KMS's
    /// encryption context) and is the HPKE associated data.
    case seal(id: UInt64, context: [UInt8], enc: [UInt8], ciphertext: [UInt8])
    /// Service → client: the sealed blob (for the host to keep).
    case sealed(id: UInt64, sealed: [UInt8])
    /// Enclave → service: release the secret in `sealed` to `document`.
    case unseal(id: UInt64, document: [UInt8], sealed: [UInt8])
    /// Service → enclave: the secret, HPKE-encrypted to the document's key.
    case released(id: UInt64, enc: [UInt8], ciphertext: [UInt8])
    /// Service → client: refused, with a stable code (`pcrPolicyMismatch`, `attestationInvalid`, ...).
    case refused(id: UInt64, code: String, reason: String)

    public static let maxDocument = 16 * 1024
    public static let maxBlob = 4096
    public static let maxContext = 256
    /// HPKE `info` of a secret released to an enclave, and of a secret sent to the service.
    public static let releaseInfo = Array("cloister-sealing/1".utf8)
    public static let sealInfo = Array("cloister-sealing/1 seal".utf8)

    /// What the emulated root signs to certify a sealing service's X25519 key.
    public static func keyStatement(_ key: [UInt8]) -> [UInt8] {
        CBOREncoder.encode(.array([.text("cloister-sealing-service-key/1"), .bytes(key)]))
    }

    enum Tag: UInt64 { case describe = 0, serviceKey = 1, seal = 2, sealed = 3, unseal = 4, released = 5, refused = 6 }

    public var encoded: [UInt8] {
        let item: CBOR
        switch self {
        case .describe(let id): item = [.unsigned(Tag.describe.rawValue), .unsigned(id)]
        case .serviceKey(let id, let k, let s): item = [.unsigned(Tag.serviceKey.rawValue), .unsigned(id), .bytes(k), .bytes(s)]
        case .seal(let id, let x, let e, let c): item = [.unsigned(Tag.seal.rawValue), .unsigned(id), .bytes(x), .bytes(e), .bytes(c)]
        case .sealed(let id, let s): item = [.unsigned(Tag.sealed.rawValue), .unsigned(id), .bytes(s)]
        case .unseal(let id, let d, let s): item = [.unsigned(Tag.unseal.rawValue), .unsigned(id), .bytes(d), .bytes(s)]
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
        func field(_ i: Int, max: Int, exactly: Int? = nil) throws(WireError) -> [UInt8] {
            guard let b = f[i].bytes, !b.isEmpty, b.count <= max, exactly == nil || b.count == exactly else {
                throw WireError(.malformedMessage, "sealing field \(i) must be \(exactly.map { "\($0)" } ?? "1 to \(max)") bytes")
            }
            return b
        }
        switch (tag, f.count) {
        case (.describe, 2): self = .describe(id: id)
        case (.serviceKey, 4): self = .serviceKey(id: id, key: try field(2, max: 32, exactly: 32), signature: try field(3, max: 160))
        case (.seal, 5):
            self = .seal(id: id, context: try field(2, max: Self.maxContext), enc: try field(3, max: 32, exactly: 32), ciphertext: try field(4, max: 256))
        case (.sealed, 3): self = .sealed(id: id, sealed: try field(2, max: Self.maxBlob))
        case (.unseal, 4): self = .unseal(id: id, document: try field(2, max: Self.maxDocument), sealed: try field(3, max: Self.maxBlob))
        case (.released, 4): self = .released(id: id, enc: try field(2, max: 32, exactly: 32), ciphertext: try field(3, max: 256))
        case (.refused, 4):
            guard let code = f[2].text, let reason = f[3].text else { throw WireError(.malformedMessage, "refused fields") }
            self = .refused(id: id, code: String(code.prefix(64)), reason: String(reason.prefix(512)))
        default:
            throw WireError(.malformedMessage, "sealing message \(tag) with \(f.count - 1) fields")
        }
    }

    /// The request number of an answer (nil for requests).
    public var answerID: UInt64? {
        switch self {
        case .serviceKey(let id, _, _), .sealed(let id, _), .released(let id, _, _), .refused(let id, _, _): id
        case .describe, .seal, .unseal: nil
        }
    }
}
