import Crypto
import Foundation
import Testing

@testable import SecureModule

/// HPKE and its pieces, checked against swift-crypto (an independent implementation over BoringSSL).
@Suite struct HPKETests {
    static var suite: HPKE_Crypto.Ciphersuite { HPKE_Crypto.Ciphersuite(kem: .Curve25519_HKDF_SHA256, kdf: .HKDF_SHA256, aead: .AES_GCM_256) }
    static let info = Array("cloister test".utf8)

    @Test(arguments: [0, 1, 31, 1000])
    func whatWeSealSwiftCryptoOpens(size: Int) throws {
        let recipient = Curve25519.KeyAgreement.PrivateKey()
        let plaintext = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let (enc, ciphertext) = try HPKEX25519.seal(to: Array(recipient.publicKey.rawRepresentation), info: Self.info, aad: [1, 2], plaintext: plaintext)
        var opener = try HPKE_Crypto.Recipient(privateKey: recipient, ciphersuite: Self.suite, info: Data(Self.info), encapsulatedKey: Data(enc))
        #expect(Array(try opener.open(Data(ciphertext), authenticating: Data([1, 2]))) == plaintext)
    }

    @Test func whatSwiftCryptoSealsWeOpen() throws {
        let key = try X25519Key.generate()
        let recipient = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: Data(key.publicKey))
        var sender = try HPKE_Crypto.Sender(recipientKey: recipient, ciphersuite: Self.suite, info: Data(Self.info))
        let ciphertext = try sender.seal(Data("master secret".utf8), authenticating: Data([9]))
        let opened = try HPKEX25519.open(Array(ciphertext), enc: Array(sender.encapsulatedKey), with: key, info: Self.info, aad: [9])
        #expect(opened == Array("master secret".utf8))
    }

    @Test func anythingAlteredDoesNotOpen() throws {
        let key = try X25519Key.generate()
        let (enc, ciphertext) = try HPKEX25519.seal(to: key.publicKey, info: Self.info, aad: [1], plaintext: [1, 2, 3])
        #expect(try HPKEX25519.open(ciphertext, enc: enc, with: key, info: Self.info, aad: [1]) == [1, 2, 3])
        var flipped = ciphertext
        flipped[0] ^= 1
        #expect(throws: HPKEX25519.Error.self) { try HPKEX25519.open(flipped, enc: enc, with: key, info: Self.info, aad: [1]) }
        #expect(throws: HPKEX25519.Error.self) { try HPKEX25519.open(ciphertext, enc: enc, with: key, info: Self.info, aad: [2]) }
        #expect(throws: HPKEX25519.Error.self) { try HPKEX25519.open(ciphertext, enc: enc, with: key, info: [0], aad: [1]) }
        #expect(throws: HPKEX25519.Error.self) { try HPKEX25519.open(ciphertext, enc: enc, with: try X25519Key.generate(), info: Self.info, aad: [1]) }
        #expect(throws: HPKEX25519.Error.self) { try HPKEX25519.open(ciphertext, enc: [UInt8](repeating: 0, count: 32), with: key, info: Self.info, aad: [1]) }
        #expect(throws: HPKEX25519.Error.self) { try HPKEX25519.open(ciphertext, enc: [1, 2], with: key, info: Self.info, aad: [1]) }
    }

    @Test func aesGCMAndHKDFMatchSwiftCrypto() throws {
        let key = (0..<32).map { UInt8($0) }
        let nonce = [UInt8](repeating: 3, count: 12)
        let sealed = try AESGCM.seal(Array("hello".utf8), key: key, nonce: nonce, aad: [7])
        let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: nonce), ciphertext: sealed.prefix(5), tag: sealed.suffix(16))
        #expect(Array(try AES.GCM.open(box, using: SymmetricKey(data: key), authenticating: [7])) == Array("hello".utf8))
        #expect(throws: AESGCM.Error.self) { try AESGCM.open(sealed, key: key, nonce: nonce, aad: [8]) }
        #expect(try AESGCM.open(try AESGCM.seal([], key: key, nonce: nonce), key: key, nonce: nonce) == [])

        let derived = HKDF.derive(.sha384, ikm: [1, 2, 3], salt: [4], info: Array("info".utf8), length: 42)
        let reference = Crypto.HKDF<SHA384>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: [1, 2, 3]), salt: [4], info: Array("info".utf8), outputByteCount: 42)
        #expect(derived == reference.withUnsafeBytes { Array($0) })
    }
}

typealias HPKE_Crypto = Crypto.HPKE
