import COpenSSL
import Foundation
import NitroAttestation
import SecureModule

// The XAES-256-GCM accumulated vector (C2SP XAES-256-GCM.md): ITERATIONS rounds of key, nonce, plaintext and
// associated data read from one SHAKE-128 stream, each sealed (and opened again) with this implementation and the
// ciphertexts absorbed into a second SHAKE-128, whose first 32 bytes must be EXPECTED. Scripts/xaes-accumulated runs
// it with the spec's 1,000,000-iteration hash; the tests run the 10,000-iteration one.
//
// Usage: XAESAccumulated ITERATIONS EXPECTED_HEX

/// SHAKE-128 through libcrypto (EVP "SHAKE128"); OpenSSL 3.0 squeezes once per context.
final class Shake {
    private let context: OpaquePointer
    init() {
        guard let md = EVP_MD_fetch(nil, "SHAKE128", nil), let context = EVP_MD_CTX_new() else { fatalError("libcrypto has no SHAKE128") }
        defer { EVP_MD_free(md) }
        guard EVP_DigestInit_ex2(context, md, nil) == 1 else { fatalError("SHAKE128 init failed") }
        self.context = context
    }
    deinit { EVP_MD_CTX_free(context) }
    func absorb(_ bytes: [UInt8]) { _ = bytes.withUnsafeBufferPointer { EVP_DigestUpdate(context, $0.baseAddress, $0.count) } }
    func squeeze(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        guard EVP_DigestFinalXOF(context, &out, count) == 1 else { fatalError("SHAKE128 output failed") }
        return out
    }
}

let arguments = CommandLine.arguments
guard arguments.count == 3, let iterations = Int(arguments[1]), iterations > 0, let expected = Hex.decode(arguments[2]) else {
    FileHandle.standardError.write(Data("usage: XAESAccumulated ITERATIONS EXPECTED_HEX\n".utf8))
    exit(2)
}
/// Runs the rounds; the 32-byte hash of their ciphertexts, or nil when a round did not open.
func accumulate(_ iterations: Int) throws -> [UInt8]? {
    let stream = Shake().squeeze(iterations * 568)  // at most 32 + 24 + 1 + 255 + 1 + 255 bytes a round
    var at = 0
    func read(_ count: Int) -> [UInt8] {
        defer { at += count }
        return Array(stream[at..<(at + count)])
    }
    let hash = Shake()
    for i in 0..<iterations {
        let (key, nonce) = (read(32), read(24))
        let plaintext = read(Int(read(1)[0]))
        let aad = read(Int(read(1)[0]))
        let sealed = try XAES256GCM.seal(plaintext, key: key, nonce: nonce, aad: aad)
        guard try XAES256GCM.open(sealed, key: key, nonce: nonce, aad: aad) == plaintext else {
            print("round \(i) did not open to its plaintext")
            return nil
        }
        hash.absorb(sealed)
    }
    return hash.squeeze(32)
}

guard let got = try accumulate(iterations) else { exit(1) }
print("\(iterations) rounds: \(Hex.encode(got).lowercased()) \(got == expected ? "matches the spec" : "DOES NOT match the spec's \(Hex.encode(expected).lowercased())")")
exit(got == expected ? 0 : 1)
