import CBOR
import Synchronization

/// What proves that a bridge connection belongs to an attested enclave boot. The host writes a fresh 32-byte
/// challenge as the first frame of every connection it accepts; the enclave's hello carries one of:
///
/// - `signature`: an attestation document whose `public_key` is the boot's identity key (P-384), and that key's
///   ES384 signature over the challenge and the channel kind the connection asks for. On a control connection it
///   also gives the host a 32-byte MAC key for this boot (covered by the signature).
/// - `mac`: the boot's key id (SHA-256 of the identity key's DER) and HMAC-SHA256 under that MAC key over the same
///   bytes: cheap enough for every ingress tunnel, and good only once the host holds the key from a signed control
///   hello of the same boot.
///
/// A process that can reach the bridge port but holds no attested key cannot answer either way, and an answer is
/// good for one connection only.
///
/// Wire form (inside `hello`): `[0, document bstr, signature bstr]`, `[0, document, signature, macKey bstr32]` or
/// `[1, keyID bstr32, tag bstr32]`.
public enum ChannelProof: Sendable, Hashable {
    case signature(document: [UInt8], signature: [UInt8], macKey: [UInt8]?)
    case mac(keyID: [UInt8], tag: [UInt8])

    /// Bytes of a challenge.
    public static let challengeSize = 32
    /// Bytes of a raw ES384 signature.
    public static let signatureSize = 96
    /// Bytes of a MAC key, a key id and a tag.
    public static let macSize = 32
    /// Largest document a proof carries.
    public static let maxDocumentSize = 64 * 1024
    /// What the signed or MACed bytes begin with: no COSE Sig_structure (a CBOR array) or other message this key
    /// signs starts with it.
    public static let domain = Array("cloister-bridge-channel/v1".utf8)

    /// The bytes the identity key signs (and the MAC covers) for one connection: the domain, a zero byte, the channel
    /// kind, a zero byte, the challenge, then the MAC key a signed control hello gives, if any.
    public static func signedBytes(channel: ChannelKind, challenge: [UInt8], macKey: [UInt8]? = nil) -> [UInt8] {
        domain + [0] + Array(channel.rawValue.utf8) + [0] + challenge + (macKey ?? [])
    }

    var cbor: CBOR {
        switch self {
        case .signature(let d, let s, let k): return .array([.unsigned(0), .bytes(d), .bytes(s)] + (k.map { [.bytes($0)] } ?? []))
        case .mac(let id, let tag): return .array([.unsigned(1), .bytes(id), .bytes(tag)])
        }
    }

    /// Reads the proof field of a hello strictly.
    init(_ item: CBOR) throws(WireError) {
        guard case .array(let parts) = item, let kind = parts.first?.uint64 else {
            throw WireError(.malformedMessage, "hello proof must be [kind, ...]")
        }
        switch (kind, parts.count) {
        case (0, 3), (0, 4):
            guard let document = parts[1].bytes, !document.isEmpty, document.count <= Self.maxDocumentSize,
                let signature = parts[2].bytes, signature.count == Self.signatureSize
            else { throw WireError(.malformedMessage, "hello proof must be [0, document, 96-byte signature, ?32-byte MAC key]") }
            var macKey: [UInt8]?
            if parts.count == 4 {
                guard let k = parts[3].bytes, k.count == Self.macSize else { throw WireError(.malformedMessage, "hello proof's MAC key must be 32 bytes") }
                macKey = k
            }
            self = .signature(document: document, signature: signature, macKey: macKey)
        case (1, 3):
            guard let id = parts[1].bytes, id.count == Self.macSize, let tag = parts[2].bytes, tag.count == Self.macSize else {
                throw WireError(.malformedMessage, "hello proof must be [1, 32-byte key id, 32-byte tag]")
            }
            self = .mac(keyID: id, tag: tag)
        default:
            throw WireError(.malformedMessage, "hello proof of kind \(kind) with \(parts.count - 1) fields")
        }
    }
}

/// Answers the host's challenge for a connection of a kind: the enclave's side of `ChannelProof`. Made once per boot
/// by the code that holds the identity key; the bridge's dialers call it for every connection they open. Control
/// connections are always signed (and give the host the MAC key); others are MACed once a control session has been
/// answered (`macUsable`), signed before that.
public final class ChannelProver: Sendable {
    private let sign: @Sendable (ChannelKind, [UInt8], _ withMACKey: Bool) throws -> ChannelProof
    private let mac: (@Sendable (ChannelKind, [UInt8]) -> ChannelProof)?
    private let usable = Mutex(false)

    /// `sign` makes a signature proof (with the MAC key when asked); `mac`, when given, a MAC proof.
    public init(
        sign: @escaping @Sendable (ChannelKind, [UInt8], _ withMACKey: Bool) throws -> ChannelProof,
        mac: (@Sendable (ChannelKind, [UInt8]) -> ChannelProof)? = nil
    ) {
        self.sign = sign
        self.mac = mac
    }

    /// Whether the host holds this boot's MAC key: set when a control session's heartbeat is answered, cleared when
    /// it ends (the host may have restarted).
    public var macUsable: Bool {
        get { usable.withLock { $0 } }
        set { usable.withLock { $0 = newValue } }
    }

    /// The proof for a connection of `kind` whose host sent `challenge`.
    public func prove(_ kind: ChannelKind, challenge: [UInt8]) throws -> ChannelProof {
        if kind == .control { return try sign(kind, challenge, mac != nil) }
        if let mac, macUsable { return mac(kind, challenge) }
        return try sign(kind, challenge, false)
    }

    /// The hello that answers `challenge` on a connection of `kind` (`attestation`: the boot document, on control).
    public func hello(_ kind: ChannelKind, challenge: [UInt8], attestation: [UInt8]? = nil) throws -> WireMessage {
        .hello(version: WireMessage.protocolVersion, channel: kind, attestation: attestation, proof: try prove(kind, challenge: challenge))
    }
}
