import COpenSSL

/// Random bytes from libcrypto's CSPRNG: nonces, keys, tokens and request ids everywhere in Cloister.
public enum Random {
    /// `count` random bytes. Stops the process if the generator fails: nothing may continue without randomness
    /// (a zero nonce under a long-lived AES-GCM key would give the key away).
    public static func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        precondition(RAND_bytes(&out, Int32(count)) == 1, "libcrypto's random generator failed")
        return out
    }

    /// `count` random bytes as unpadded base64url (tokens, request ids).
    public static func base64url(_ count: Int) -> String {
        String(Base64.encode(bytes(count)).map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 }.filter { $0 != "=" })
    }
}
