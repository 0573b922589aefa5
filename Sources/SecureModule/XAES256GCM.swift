import NitroAttestation

/// XAES-256-GCM (C2SP, c2sp.org/XAES-256-GCM): AES-256-GCM under a key derived for each message from a 256-bit key
/// and the first half of a 192-bit nonce. Nonces drawn at random are safe for about 2^80 messages under one key (a
/// collision chance of 2^-32), so a key needs no message counter; AES-256-GCM's 96-bit random nonces allow about
/// 2^32. Like AES-256-GCM, it is not nonce misuse-resistant and not key-committing.
public enum XAES256GCM {
    public static let keySize = 32
    public static let nonceSize = 24
    public static let tagSize = AESGCM.tagSize
    /// The longest plaintext, ciphertext or associated data accepted (libcrypto takes lengths as 32-bit integers);
    /// well inside AES-GCM's own bound of 2^36 - 32 bytes.
    public static let maxMessageSize = Int(Int32.max) - tagSize

    /// `ciphertext ‖ tag` of `plaintext` under `key` (32 bytes) and `nonce` (24 bytes, random for each message),
    /// authenticating `aad`.
    public static func seal(_ plaintext: [UInt8], key: [UInt8], nonce: [UInt8], aad: [UInt8] = []) throws(XAESError) -> [UInt8] {
        guard plaintext.count <= maxMessageSize, aad.count <= maxMessageSize else {
            throw XAESError(.tooLong, "the plaintext or associated data is longer than \(maxMessageSize) bytes")
        }
        let derived = try derive(key: key, nonce: nonce)
        do { return try AESGCM.seal(plaintext, key: derived.key, nonce: derived.nonce, aad: aad) } catch {
            throw XAESError(.internalError, "AES-256-GCM failed", underlying: error)
        }
    }

    /// The plaintext of `sealed` (`ciphertext ‖ tag`) under `key` and `nonce`, authenticating `aad`; `authenticationFailed`
    /// if anything was altered.
    public static func open(_ sealed: [UInt8], key: [UInt8], nonce: [UInt8], aad: [UInt8] = []) throws(XAESError) -> [UInt8] {
        guard sealed.count <= maxMessageSize + tagSize, aad.count <= maxMessageSize else {
            throw XAESError(.tooLong, "the ciphertext or associated data is longer than \(maxMessageSize) bytes")
        }
        let derived = try derive(key: key, nonce: nonce)
        guard sealed.count >= tagSize else { throw XAESError(.truncated, "\(sealed.count) bytes is shorter than a tag") }
        do {
            return try AESGCM.open(sealed, key: derived.key, nonce: derived.nonce, aad: aad)
        } catch where error == .authenticationFailed {
            throw XAESError(.authenticationFailed, "the ciphertext does not open under this key, nonce and associated data")
        } catch {
            throw XAESError(.internalError, "AES-256-GCM failed", underlying: error)
        }
    }
}
