import COpenSSL

/// Random bytes from libcrypto's CSPRNG.
enum Random {
    static func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        // RAND_bytes only fails when the generator cannot be seeded; nothing may continue without randomness.
        precondition(RAND_bytes(&out, Int32(count)) == 1, "libcrypto's random generator failed")
        return out
    }
}
