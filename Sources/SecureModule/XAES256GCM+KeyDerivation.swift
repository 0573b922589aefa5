import COpenSSL

/// The spec's key derivation ("Detailed key derivation algorithm"): NIST SP 800-108r1's counter-mode KDF with
/// AES-256-CMAC as the PRF, label "X", the first 12 nonce bytes as context, a 16-bit counter and no length field.
/// Each CMAC input is one whole block, so CMAC is its subkey K1 and one AES-256 encryption per output block.
extension XAES256GCM {
    /// The AES-256-GCM key and nonce for `key` and `nonce`: Kₓ = AES-256ₖ(M1 ⊕ K1) ‖ AES-256ₖ(M2 ⊕ K1), Nₓ = N[12:].
    static func derive(key: [UInt8], nonce: [UInt8]) throws(XAESError) -> (key: [UInt8], nonce: [UInt8]) {
        guard key.count == keySize else { throw XAESError(.keySize, "the key is \(key.count) bytes, not \(keySize)") }
        guard nonce.count == nonceSize else { throw XAESError(.nonceSize, "the nonce is \(nonce.count) bytes, not \(nonceSize)") }
        let k1 = cmacSubkey(try encryptBlocks([UInt8](repeating: 0, count: 16), key: key))
        let input = zip(kdfInput(counter: 1, nonce: nonce) + kdfInput(counter: 2, nonce: nonce), k1 + k1).map { $0 ^ $1 }
        return (try encryptBlocks(input, key: key), Array(nonce[12...]))
    }

    /// The PRF input for counter `i`: [i]₁₆ ‖ "X" ‖ 0x00 ‖ N[:12] (M1 and M2 of the spec).
    static func kdfInput(counter: UInt8, nonce: [UInt8]) -> [UInt8] {
        [0x00, counter, 0x58, 0x00] + nonce.prefix(12)
    }

    /// CMAC's subkey K1 from L = AES-256ₖ(0¹²⁸) (NIST SP 800-38B, 6.1): L doubled in GF(2¹²⁸). L is secret: the
    /// reduction is applied through a mask, never a branch on its top bit.
    static func cmacSubkey(_ l: [UInt8]) -> [UInt8] {
        var k1 = [UInt8](repeating: 0, count: 16)
        for i in 0..<16 { k1[i] = l[i] << 1 | (i < 15 ? l[i + 1] >> 7 : 0) }
        k1[15] ^= 0x87 & (0 &- (l[0] >> 7))
        return k1
    }

    /// AES-256 of whole 16-byte blocks under `key`, each on its own (ECB, no padding): the block cipher alone.
    static func encryptBlocks(_ blocks: [UInt8], key: [UInt8]) throws(XAESError) -> [UInt8] {
        precondition(blocks.count % 16 == 0 && key.count == keySize)
        guard let ecb, let ctx = EVP_CIPHER_CTX_new() else {
            throw XAESError(.internalError, "libcrypto has no AES-256-ECB context")
        }
        defer { EVP_CIPHER_CTX_free(ctx) }
        var out = [UInt8](repeating: 0, count: blocks.count)
        var length: Int32 = 0
        let ok =
            key.withUnsafeBufferPointer { EVP_EncryptInit_ex2(ctx, ecb, $0.baseAddress, nil, nil) } == 1
            && EVP_CIPHER_CTX_set_padding(ctx, 0) == 1
            && out.withUnsafeMutableBufferPointer { o in
                blocks.withUnsafeBufferPointer { EVP_EncryptUpdate(ctx, o.baseAddress, &length, $0.baseAddress, Int32($0.count)) }
            } == 1
        guard ok, Int(length) == blocks.count else {
            ERR_clear_error()
            throw XAESError(.internalError, "AES-256-ECB failed")
        }
        return out
    }

    // Fetched once, as AESGCM does: an implicit fetch on every use takes libcrypto's global lock.
    nonisolated(unsafe) private static let ecb = EVP_CIPHER_fetch(nil, "AES-256-ECB", nil)
}
