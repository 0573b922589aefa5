/// What proves that a bridge connection belongs to an attested enclave boot: an attestation document whose
/// `public_key` is the boot's identity key (P-384), and that key's ES384 signature over the host's challenge for
/// this connection and the channel kind the connection asks for. The host writes a fresh 32-byte challenge as the
/// first frame of every connection it accepts; the enclave's hello carries the proof. A process that can reach
/// the bridge port but holds no attested key cannot answer, and an answer is good for one connection only.
///
/// Wire form (inside `hello`): `[document bstr, signature bstr]`.
public struct ChannelProof: Sendable, Hashable {
    /// The attestation document (COSE_Sign1) that binds the signing key.
    public var document: [UInt8]
    /// Raw ES384 signature (r ‖ s, 96 bytes) over `signedBytes(channel:challenge:)`.
    public var signature: [UInt8]

    public init(document: [UInt8], signature: [UInt8]) {
        self.document = document
        self.signature = signature
    }

    /// Bytes of a challenge.
    public static let challengeSize = 32
    /// Bytes of a raw ES384 signature.
    public static let signatureSize = 96
    /// Largest document a proof carries.
    public static let maxDocumentSize = 64 * 1024
    /// What the signature's bytes begin with: no COSE Sig_structure (a CBOR array) or other message this key signs
    /// starts with it.
    public static let domain = Array("cloister-bridge-channel/v1".utf8)

    /// The bytes the identity key signs for one connection: the domain, a zero byte, the channel kind, a zero byte,
    /// the challenge.
    public static func signedBytes(channel: ChannelKind, challenge: [UInt8]) -> [UInt8] {
        domain + [0] + Array(channel.rawValue.utf8) + [0] + challenge
    }
}

/// Answers the host's challenge for a connection of a kind: the enclave's side of `ChannelProof`. Made once per boot
/// by the code that holds the identity key; the bridge's dialers call it for every connection they open.
public struct ChannelProver: Sendable {
    private let body: @Sendable (ChannelKind, [UInt8]) throws -> ChannelProof

    public init(_ body: @escaping @Sendable (ChannelKind, [UInt8]) throws -> ChannelProof) {
        self.body = body
    }

    /// The proof for a connection of `kind` whose host sent `challenge`.
    public func prove(_ kind: ChannelKind, challenge: [UInt8]) throws -> ChannelProof {
        try body(kind, challenge)
    }

    /// The hello that answers `challenge` on a connection of `kind` (`attestation`: the boot document, on control).
    public func hello(_ kind: ChannelKind, challenge: [UInt8], attestation: [UInt8]? = nil) throws -> WireMessage {
        .hello(version: WireMessage.protocolVersion, channel: kind, attestation: attestation, proof: try prove(kind, challenge: challenge))
    }
}
