import COpenSSL

/// HPKE (RFC 9180), base mode, single shot, with DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and AES-256-GCM
/// (suite 0x0020, 0x0001, 0x0002): how a secret is sent to an enclave whose attestation document carries its
/// X25519 public key, so that only that enclave can read it.
public enum HPKEX25519 {
    static let kemID: [UInt8] = [0x00, 0x20]
    static let kdfID: [UInt8] = [0x00, 0x01]
    static let aeadID: [UInt8] = [0x00, 0x02]
    static let kemSuite = Array("KEM".utf8) + kemID
    static let suite = Array("HPKE".utf8) + kemID + kdfID + aeadID
    static let version = Array("HPKE-v1".utf8)

    public struct Error: Swift.Error, Hashable, Sendable, CustomStringConvertible {
        public let reason: String
        public var description: String { "HPKE: \(reason)" }
    }

    /// Encrypts `plaintext` to the X25519 public key `recipient` (32 bytes); returns the encapsulated key (32
    /// bytes) and the ciphertext.
    public static func seal(to recipient: [UInt8], info: [UInt8], aad: [UInt8] = [], plaintext: [UInt8]) throws(Error) -> (enc: [UInt8], ciphertext: [UInt8]) {
        let ephemeral: X25519Key
        do { ephemeral = try X25519Key.generate() } catch { throw Error(reason: "no ephemeral key") }
        return try seal(to: recipient, ephemeral: ephemeral, info: info, aad: aad, plaintext: plaintext)
    }

    static func seal(to recipient: [UInt8], ephemeral: X25519Key, info: [UInt8], aad: [UInt8], plaintext: [UInt8]) throws(Error) -> (enc: [UInt8], ciphertext: [UInt8]) {
        let enc = ephemeral.publicKey
        let dh = try ephemeral.agree(with: recipient)
        let (key, nonce) = schedule(shared: sharedSecret(dh: dh, enc: enc, recipient: recipient), info: info)
        do { return (enc, try AESGCM.seal(plaintext, key: key, nonce: nonce, aad: aad)) } catch { throw Error(reason: "\(error)") }
    }

    /// Decrypts what `seal` made for this key.
    public static func open(_ ciphertext: [UInt8], enc: [UInt8], with key: X25519Key, info: [UInt8], aad: [UInt8] = []) throws(Error) -> [UInt8] {
        let dh = try key.agree(with: enc)
        let (k, nonce) = schedule(shared: sharedSecret(dh: dh, enc: enc, recipient: key.publicKey), info: info)
        do { return try AESGCM.open(ciphertext, key: k, nonce: nonce, aad: aad) } catch { throw Error(reason: "cannot open: \(error.reason)") }
    }

    static func sharedSecret(dh: [UInt8], enc: [UInt8], recipient: [UInt8]) -> [UInt8] {
        let prk = labeledExtract(kemSuite, salt: [], label: "eae_prk", ikm: dh)
        return labeledExpand(kemSuite, prk: prk, label: "shared_secret", info: enc + recipient, length: 32)
    }

    static func schedule(shared: [UInt8], info: [UInt8]) -> (key: [UInt8], nonce: [UInt8]) {
        let context = [0x00] + labeledExtract(suite, salt: [], label: "psk_id_hash", ikm: []) + labeledExtract(suite, salt: [], label: "info_hash", ikm: info)
        let secret = labeledExtract(suite, salt: shared, label: "secret", ikm: [])
        return (
            labeledExpand(suite, prk: secret, label: "key", info: context, length: 32),
            labeledExpand(suite, prk: secret, label: "base_nonce", info: context, length: AESGCM.nonceSize)
        )
    }

    static func labeledExtract(_ suite: [UInt8], salt: [UInt8], label: String, ikm: [UInt8]) -> [UInt8] {
        HKDF.extract(.sha256, salt: salt, ikm: version + suite + Array(label.utf8) + ikm)
    }

    static func labeledExpand(_ suite: [UInt8], prk: [UInt8], label: String, info: [UInt8], length: Int) -> [UInt8] {
        HKDF.expand(.sha256, prk: prk, info: [UInt8(length >> 8), UInt8(length & 0xFF)] + version + suite + Array(label.utf8) + info, length: length)
    }
}

extension X25519Key {
    /// The X25519 shared secret with the peer's raw public key; an all-zero result (a small-order point) is refused.
    func agree(with peer: [UInt8]) throws(HPKEX25519.Error) -> [UInt8] {
        guard peer.count == 32, let other = peer.withUnsafeBufferPointer({ EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nil, $0.baseAddress, 32) }) else {
            throw HPKEX25519.Error(reason: "not an X25519 public key")
        }
        defer { EVP_PKEY_free(other) }
        guard let ctx = EVP_PKEY_CTX_new(pointer, nil) else { throw HPKEX25519.Error(reason: "no context") }
        defer { EVP_PKEY_CTX_free(ctx) }
        var out = [UInt8](repeating: 0, count: 32)
        var length = 32
        guard EVP_PKEY_derive_init(ctx) == 1, EVP_PKEY_derive_set_peer(ctx, other) == 1, EVP_PKEY_derive(ctx, &out, &length) == 1, length == 32,
            out.contains(where: { $0 != 0 })
        else {
            ERR_clear_error()
            throw HPKEX25519.Error(reason: "key agreement failed")
        }
        return out
    }
}
