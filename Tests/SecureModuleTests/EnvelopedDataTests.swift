import Foundation
import NitroAttestation
import Testing

@testable import SecureModule

/// EnvelopedData.open against envelopes made by `openssl cms -encrypt` (see OpenSSLEnvelopes) and against real
/// `CiphertextForRecipient` answers from AWS KMS (Vectors/README.md).
@Suite struct EnvelopedDataTests {
    static func random(_ count: Int) -> [UInt8] {
        var rng = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
    }

    @Test(arguments: [false, true])
    func opensWhatOpenSSLSeals(stream: Bool) throws {
        let fixture = try OpenSSLEnvelopes()
        let key = try RecipientKey(pem: try fixture.privateKey())
        let master = Self.random(32)
        let envelope = try fixture.envelope(master, stream: stream)
        // -stream writes indefinite lengths: 0x30 0x80 opens the ContentInfo.
        #expect(Array(envelope.prefix(2)) == (stream ? [0x30, 0x80] : [0x30, 0x82]))
        #expect(try EnvelopedData.open(envelope, with: key, expectedLength: 32) == master)
    }

    /// An envelope openssl makes with `change` from KMS's shape, and the code it must be refused with.
    struct Refusal: Sendable, CustomTestStringConvertible {
        let testDescription: String
        let expect: CMSErrorCode
        let make: @Sendable (OpenSSLEnvelopes) throws -> [UInt8]
    }

    static let master: [UInt8] = Array(repeating: 0x5A, count: 32)

    static let refusals: [Refusal] = [
        Refusal(testDescription: "another recipient's key", expect: .recipientMismatch) {
            try $0.envelope(master, to: ["other"])
        },
        Refusal(testDescription: "PKCS#1 v1.5 key transport", expect: .keyEncryptionAlgorithm) {
            try $0.envelope(master, keyOptions: ["rsa_padding_mode:pkcs1"])
        },
        Refusal(testDescription: "OAEP with SHA-1", expect: .keyEncryptionAlgorithm) {
            try $0.envelope(master, keyOptions: ["rsa_padding_mode:oaep"])
        },
        Refusal(testDescription: "OAEP-SHA-256 with MGF1-SHA-1", expect: .keyEncryptionAlgorithm) {
            try $0.envelope(master, keyOptions: ["rsa_padding_mode:oaep", "rsa_oaep_md:sha256", "rsa_mgf1_md:sha1"])
        },
        Refusal(testDescription: "OAEP with a label", expect: .keyEncryptionAlgorithm) {
            try $0.envelope(master, keyOptions: OpenSSLEnvelopes.oaepSHA256 + ["rsa_oaep_label:00ff"])
        },
        Refusal(testDescription: "AES-128-CBC content", expect: .contentEncryptionAlgorithm) {
            try $0.envelope(master, cipher: "-aes-128-cbc")
        },
        Refusal(testDescription: "AES-256-GCM (AuthEnvelopedData)", expect: .notEnvelopedData) {
            try $0.envelope(master, cipher: "-aes-256-gcm")
        },
        Refusal(testDescription: "issuer and serial number instead of keyid", expect: .recipientVersion) {
            try $0.envelope(master, keyID: false)
        },
        Refusal(testDescription: "two recipients", expect: .recipientCount) {
            try $0.envelope(master, to: ["recipient", "other"])
        },
        Refusal(testDescription: "a 31-byte plaintext", expect: .lengthMismatch) {
            try $0.envelope(Array(master.dropLast()))
        },
        Refusal(testDescription: "a 33-byte plaintext", expect: .lengthMismatch) {
            try $0.envelope(master + [0])
        },
        Refusal(testDescription: "an empty plaintext", expect: .lengthMismatch) { try $0.envelope([]) },
        Refusal(testDescription: "a flipped encrypted-key byte", expect: .decryptFailed) {
            var envelope = try $0.envelope(master)
            // The 256-byte encryptedKey OCTET STRING (04 82 01 00) follows the key encryption algorithm.
            let header: [UInt8] = [0x04, 0x82, 0x01, 0x00]
            let start = try #require((0..<envelope.count - 4).first { Array(envelope[$0..<$0 + 4]) == header })
            envelope[start + 4 + 100] ^= 0x01
            return envelope
        },
        Refusal(testDescription: "a flipped ciphertext byte (CBC padding)", expect: .decryptFailed) {
            var envelope = try $0.envelope(master)
            // DER puts the 48-byte ciphertext last; this flips the last byte of its second block, which turns the
            // padding byte 0x10 into 0x11, never valid padding for a 16-byte block.
            envelope[envelope.count - 17] ^= 0x01
            return envelope
        },
        Refusal(testDescription: "a flipped subject key identifier byte", expect: .recipientMismatch) {
            var envelope = try $0.envelope(master)
            // The identifier is the 20 bytes after 80 14.
            let start = try #require((0..<envelope.count - 1).first { envelope[$0] == 0x80 && envelope[$0 + 1] == 0x14 })
            envelope[start + 2] ^= 0x01
            return envelope
        },
        Refusal(testDescription: "trailing zero byte", expect: .malformed) { try $0.envelope(master) + [0] },
        Refusal(testDescription: "a second ContentInfo after the first", expect: .malformed) {
            let one = try $0.envelope(master)
            return one + one
        },
        Refusal(testDescription: "trailing garbage after indefinite lengths", expect: .malformed) {
            try $0.envelope(master, stream: true) + [0x30, 0x00]
        },
        Refusal(testDescription: "empty input", expect: .malformed) { _ in [] },
        Refusal(testDescription: "oversized input", expect: .malformed) { _ in
            [0x30, 0x83, 0x01, 0x00, 0x00] + [UInt8](repeating: 0, count: 65536)
        },
    ]

    @Test(arguments: refusals)
    func refuses(_ refusal: Refusal) throws {
        let fixture = try OpenSSLEnvelopes()
        let key = try RecipientKey(pem: try fixture.privateKey())
        let envelope = try refusal.make(fixture)
        #expect(throws: CMSError(refusal.expect, "")) { try EnvelopedData.open(envelope, with: key, expectedLength: 32) }
    }

    /// Without a certificate, libcrypto's CMS_decrypt answers a wrong key with a random content key; here a key
    /// that is named correctly but is not the one the content key was encrypted to must fail, not yield bytes.
    @Test func aWrongKeyNamedAsTheRecipientNeverYieldsPlaintext() throws {
        let fixture = try OpenSSLEnvelopes()
        let recipient = try RecipientKey(pem: try fixture.privateKey("recipient"))
        let other = try RecipientKey(pem: try fixture.privateKey("other"))
        var envelope = try fixture.envelope(Self.master, to: ["other"])
        // Rename the recipient: the other key's identifier becomes the recipient's.
        let otherID = other.subjectKeyIdentifiers[0]
        let start = try #require((0...envelope.count - 20).first { Array(envelope[$0..<$0 + 20]) == otherID })
        envelope.replaceSubrange(start..<start + 20, with: recipient.subjectKeyIdentifiers[0])
        #expect(throws: CMSError(.decryptFailed, "")) { try EnvelopedData.open(envelope, with: recipient, expectedLength: 32) }
        #expect(throws: CMSError(.recipientMismatch, "")) { try EnvelopedData.open(envelope, with: other, expectedLength: 32) }
    }

    @Test(arguments: [false, true])
    func everyPrefixIsRefused(stream: Bool) throws {
        let fixture = try OpenSSLEnvelopes()
        let key = try RecipientKey(pem: try fixture.privateKey())
        let envelope = try fixture.envelope(Self.master, stream: stream)
        for length in 0..<envelope.count {
            #expect(throws: CMSError(.malformed, ""), "prefix of \(length) bytes") {
                try EnvelopedData.open(Array(envelope.prefix(length)), with: key, expectedLength: 32)
            }
        }
    }

    /// Real KMS answers pass every rule before the key is compared, then are refused for naming another key.
    @Test(arguments: ["kms-ciphertext-for-recipient", "kms-ciphertext-for-recipient-implicit-content"])
    func kmsEnvelopesHaveTheShapeAndNameAnotherKey(vector: String) throws {
        let url = try #require(Bundle.module.url(forResource: vector, withExtension: "ber", subdirectory: "Vectors"))
        let envelope = Array(try Data(contentsOf: url))
        #expect(Array(envelope.prefix(2)) == [0x30, 0x80], "KMS writes indefinite lengths")
        let key = try RecipientKey.generate()
        #expect(throws: CMSError(.recipientMismatch, "")) { try EnvelopedData.open(envelope, with: key, expectedLength: 32) }
        for length in [0, 1, envelope.count / 2, envelope.count - 1] {
            #expect(throws: CMSError(.malformed, "")) { try EnvelopedData.open(Array(envelope.prefix(length)), with: key, expectedLength: 32) }
        }
    }
}
