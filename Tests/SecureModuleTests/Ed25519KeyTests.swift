import Crypto
import Foundation
import NitroAttestation
import Testing

@testable import SecureModule

/// The deployment key's Ed25519 against swift-crypto (BoringSSL's implementation), both ways, and RFC 8032's first
/// test vector (section 7.1, TEST 1).
@Suite struct Ed25519KeyTests {
    @Test func rfc8032Test1() throws {
        let seed = try #require(Hex.decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
        let key = try Ed25519Key(seed: seed)
        #expect(Hex.encode(key.publicKey) == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        #expect(
            Hex.encode(try key.sign([]))
                == "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
    }

    @Test func interoperatesWithSwiftCrypto() throws {
        for _ in 0..<8 {
            let seed = Random.bytes(32)
            let ours = try Ed25519Key(seed: seed)
            let theirs = try Curve25519.Signing.PrivateKey(rawRepresentation: seed)
            #expect(ours.publicKey == Array(theirs.publicKey.rawRepresentation))
            let message = Random.bytes(100)
            #expect(theirs.publicKey.isValidSignature(try ours.sign(message), for: message))
            let signature = Array(try theirs.signature(for: message))
            #expect(Ed25519Key.verify(signature, of: message, publicKey: ours.publicKey))
            var bad = signature
            bad[10] ^= 1
            #expect(!Ed25519Key.verify(bad, of: message, publicKey: ours.publicKey))
            #expect(!Ed25519Key.verify(signature, of: message + [0], publicKey: ours.publicKey))
        }
        #expect(throws: NSMError.self) { try Ed25519Key(seed: Random.bytes(31)) }
        #expect(!Ed25519Key.verify([1], of: [], publicKey: Random.bytes(32)))
    }
}
