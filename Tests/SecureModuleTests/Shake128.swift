import COpenSSL

/// SHAKE-128 through libcrypto (EVP "SHAKE128"): the deterministic generator and the hash of the XAES-256-GCM
/// accumulated vectors. OpenSSL 3.0 squeezes once per context, so the generator's output is made up front.
final class Shake128 {
    private let context: OpaquePointer

    /// A SHAKE-128 instance with nothing absorbed yet.
    init() {
        guard let md = EVP_MD_fetch(nil, "SHAKE128", nil), let context = EVP_MD_CTX_new() else {
            preconditionFailure("libcrypto has no SHAKE128")
        }
        defer { EVP_MD_free(md) }
        precondition(EVP_DigestInit_ex2(context, md, nil) == 1, "SHAKE128 init failed")
        self.context = context
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Absorbs `bytes`.
    func update(_ bytes: [UInt8]) {
        precondition(bytes.withUnsafeBufferPointer { EVP_DigestUpdate(context, $0.baseAddress, $0.count) } == 1, "SHAKE128 update failed")
    }

    /// The first `count` bytes of the output; the instance absorbs nothing after this.
    func finish(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        precondition(EVP_DigestFinalXOF(context, &out, count) == 1, "SHAKE128 output failed")
        return out
    }
}
