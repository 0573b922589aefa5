import Foundation
import CloisterTestSupport
import NitroAttestation
import Testing

@testable import SecureModule

/// HPKEX25519 both ways with pyhpke (PyPI), an RFC 9180 implementation nobody here wrote, run as a python3
/// subprocess. Scripts/bootstrap installs pyhpke; without it these tests fail rather than skip.
@Suite struct HPKEInteropTests {
    static let info = Array("cloister pyhpke interop".utf8)
    static let aad: [UInt8] = [0xC1, 0x05, 0x7E, 0x00, 0xFF]

    /// argv: recipient private key, enc, ciphertext, info, aad (hex). Prints the plaintext (hex).
    static let pyhpkeOpens = """
        import sys
        from pyhpke import AEADId, CipherSuite, KDFId, KEMId
        sk, enc, ct, info, aad = (bytes.fromhex(a) for a in sys.argv[1:6])
        suite = CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.AES256_GCM)
        recipient = suite.create_recipient_context(enc, suite.kem.deserialize_private_key(sk), info)
        print(recipient.open(ct, aad).hex())
        """

    /// argv: recipient public key, plaintext, info, aad (hex). Prints enc and the ciphertext (hex), one a line.
    static let pyhpkeSeals = """
        import sys
        from pyhpke import AEADId, CipherSuite, KDFId, KEMId
        pk, pt, info, aad = (bytes.fromhex(a) for a in sys.argv[1:5])
        suite = CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.AES256_GCM)
        enc, sender = suite.create_sender_context(suite.kem.deserialize_public_key(pk), info)
        print(enc.hex())
        print(sender.seal(pt, aad).hex())
        """

    @Test(arguments: [0, 1, 1000])
    func pyhpkeOpensWhatWeSeal(size: Int) throws {
        var rng = SystemRandomNumberGenerator()
        let secret = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
        let recipient = try X25519Key.fromRawPrivateKey(secret)
        let plaintext = Self.plaintext(size)
        let (enc, ciphertext) = try HPKEX25519.seal(to: recipient.publicKey, info: Self.info, aad: Self.aad, plaintext: plaintext)
        let out = try Self.python(Self.pyhpkeOpens, [secret, enc, ciphertext, Self.info, Self.aad])
        #expect(Hex.decode(out.trimmingCharacters(in: .whitespacesAndNewlines)) == plaintext)
    }

    @Test(arguments: [0, 1, 1000])
    func weOpenWhatPyhpkeSeals(size: Int) throws {
        let key = try X25519Key.generate()
        let plaintext = Self.plaintext(size)
        let lines = try Self.python(Self.pyhpkeSeals, [key.publicKey, plaintext, Self.info, Self.aad]).split(separator: "\n")
        try #require(lines.count == 2, "pyhpke printed \(lines)")
        let enc = try #require(Hex.decode(lines[0]))
        let ciphertext = try #require(Hex.decode(lines[1]))
        #expect(ciphertext.count == size + AESGCM.tagSize)
        #expect(try HPKEX25519.open(ciphertext, enc: enc, with: key, info: Self.info, aad: Self.aad) == plaintext)
        #expect(throws: HPKEX25519.Error.self) { try HPKEX25519.open(ciphertext, enc: enc, with: key, info: Self.info, aad: []) }
    }

    static func plaintext(_ size: Int) -> [UInt8] { (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) } }

    /// Runs `script` with `python3 -c`, the byte strings as hex arguments; its standard output, or a failure
    /// that says what python3 said.
    static func python(_ script: String, _ arguments: [[UInt8]]) throws -> String {
        let run = try BuiltTool.runBlocking(executable: URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script] + arguments.map { Hex.encode($0) }, environment: [:])
        let hint = run.stderr.contains("No module named") ? " (python3 has no pyhpke: run Scripts/bootstrap)" : ""
        try #require(run.status == 0, "python3 with pyhpke failed\(hint): \(run.stderr)")
        return run.stdout
    }
}
