import SecureModule

/// Signs notes with an Ed25519 key under a name: as a log (signature type 0x01, C2SP signed-note) or as a witness
/// cosigning checkpoints (type 0x04, C2SP tlog-cosignature `cosignature/v1`).
public struct NoteSigner: Sendable {
    /// The verifier key that checks this signer's signatures.
    public let verifierKey: NoteVerifierKey
    private let key: Ed25519Key

    /// A signer named `name` of `type` with `key`.
    public init(name: String, type: NoteSignatureType = .ed25519, key: Ed25519Key) throws(TransparencyLogError) {
        verifierKey = try NoteVerifierKey(name: name, type: type, publicKey: key.publicKey)
        self.key = key
    }

    /// The signature line over `text`. A cosigner (type 0x04) signs `cosignature/v1`, the time line for
    /// `timestamp` (seconds since 1970, at most 2^63 - 1) and the text; a log signer ignores `timestamp`.
    public func sign(text: [UInt8], timestamp: UInt64 = 0) throws(TransparencyLogError) -> NoteSignature {
        let signature: [UInt8]
        do {
            switch verifierKey.type {
            case .ed25519:
                signature = try key.sign(text)
            case .cosignatureV1:
                guard timestamp <= UInt64(Int64.max) else {
                    throw TransparencyLogError(.invalidTimestamp, "cosignature time \(timestamp) is above 2^63 - 1")
                }
                signature = NoteText.bigEndian(timestamp) + (try key.sign(Self.cosignedMessage(text: text, timestamp: timestamp)))
            }
        } catch let error as TransparencyLogError {
            throw error
        } catch {
            throw TransparencyLogError(.signingFailed, "Ed25519 signing failed", underlying: error)
        }
        return try NoteSignature(name: verifierKey.name, keyID: verifierKey.keyID, signature: signature)
    }

    /// A note of `text` signed by each of `signers` in order.
    public static func sign(text: [UInt8], by signers: [NoteSigner], timestamp: UInt64 = 0) throws(TransparencyLogError) -> SignedNote {
        var signatures: [NoteSignature] = []
        for signer in signers { signatures.append(try signer.sign(text: text, timestamp: timestamp)) }
        return try SignedNote(text: text, signatures: signatures)
    }

    /// What a `cosignature/v1` signs: the header line, the time line and the checkpoint text.
    static func cosignedMessage(text: [UInt8], timestamp: UInt64) -> [UInt8] {
        Array("cosignature/v1\ntime \(timestamp)\n".utf8) + text
    }
}
