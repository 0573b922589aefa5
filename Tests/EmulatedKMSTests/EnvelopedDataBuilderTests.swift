import COpenSSL
import Foundation
import NitroAttestation
import Testing

@testable import EmulatedKMS
@testable import SecureModule

/// EnvelopedDataBuilder's envelopes, opened by SecureModule's `EnvelopedData.open` and by `openssl cms` (a peer
/// nobody here wrote), read field by field with `openssl asn1parse`, and laid out like AWS KMS's own
/// `CiphertextForRecipient` answers (Tests/SecureModuleTests/Vectors/README.md).
@Suite struct EnvelopedDataBuilderTests {
    @Test(arguments: [0, 1, 32, EnvelopedDataBuilder.maximumPlaintextSize])
    func opensWithTheRecipientKey(length: Int) throws {
        let key = try RecipientKey.generate()
        let plaintext = Random.bytes(length)
        let envelope = try EnvelopedDataBuilder.seal(plaintext, toRecipient: key.publicKeyDER)
        #expect(try EnvelopedData.open(envelope, with: key, expectedLength: length) == plaintext)
    }

    @Test(arguments: [2048, 3072, 4096])
    func openSSLOpensIt(bits: Int) async throws {
        let peer = try OpenSSLPeer()
        let spki = try await peer.generateRSA("recipient", bits: bits)
        let plaintext = Random.bytes(32)
        let envelope = try peer.write(try EnvelopedDataBuilder.seal(plaintext, toRecipient: spki), to: "envelope.der")
        try await peer.run([
            "cms", "-decrypt", "-inform", "DER", "-in", envelope, "-inkey", peer.path("recipient.key"), "-binary",
            "-out", peer.path("plaintext"),
        ])
        #expect(try peer.read("plaintext") == plaintext)
        if bits == 2048 {
            // The same key read the way the enclave's tests read one.
            let key = try RecipientKey(pem: try peer.read("recipient.key"))
            #expect(try EnvelopedData.open(try peer.read("envelope.der"), with: key, expectedLength: 32) == plaintext)
        }
    }

    /// What openssl asn1parse lists of an envelope to an RSA-2048 key, element by element, random parts left out.
    static let kmsLayout: [(depth: Int, type: String, value: String)] = [
        (0, "SEQUENCE", ""),  // ContentInfo
        (1, "OBJECT", "pkcs7-envelopedData"),
        (1, "cont [ 0 ]", ""),
        (2, "SEQUENCE", ""),  // EnvelopedData
        (3, "INTEGER", "02"),  // version
        (3, "SET", ""),
        (4, "SEQUENCE", ""),  // KeyTransRecipientInfo
        (5, "INTEGER", "02"),  // version
        (5, "cont [ 0 ]", ""),  // subjectKeyIdentifier
        (5, "SEQUENCE", ""),  // keyEncryptionAlgorithm
        (6, "OBJECT", "rsaesOaep"),
        (6, "SEQUENCE", ""),  // RSAES-OAEP-params
        (7, "cont [ 0 ]", ""),  // hashAlgorithm
        (8, "SEQUENCE", ""),
        (9, "OBJECT", "sha256"),
        (9, "NULL", ""),
        (7, "cont [ 1 ]", ""),  // maskGenAlgorithm
        (8, "SEQUENCE", ""),
        (9, "OBJECT", "mgf1"),
        (9, "SEQUENCE", ""),
        (10, "OBJECT", "sha256"),
        (10, "NULL", ""),
        (5, "OCTET STRING", ""),  // encryptedKey
        (3, "SEQUENCE", ""),  // EncryptedContentInfo
        (4, "OBJECT", "pkcs7-data"),
        (4, "SEQUENCE", ""),  // contentEncryptionAlgorithm
        (5, "OBJECT", "aes-256-cbc"),
        (5, "OCTET STRING", ""),  // IV
        (4, "cont [ 0 ]", ""),  // encryptedContent
    ]

    @Test func itsFieldsAreKMSs() async throws {
        let peer = try OpenSSLPeer()
        let spki = try await peer.generateRSA("recipient")
        let envelope = try EnvelopedDataBuilder.seal(Random.bytes(32), toRecipient: spki)
        let listing = try ASN1Listing(
            try await peer.run(["asn1parse", "-inform", "DER", "-in", try peer.write(envelope, to: "envelope.der")])
        )
        try #require(
            listing.rows.map { "\($0.depth) \($0.type) \($0.value)" }
                == Self.kmsLayout.map { "\($0.depth) \($0.type) \($0.value)" }
        )
        let rows = listing.rows
        #expect(rows[8].length == 32 && !rows[8].constructed)
        // The identifier is SHA-256 of the whole SubjectPublicKeyInfo, as openssl dgst computes it.
        try await peer.run(["dgst", "-sha256", "-binary", "-out", peer.path("spki.sha256"), peer.path("recipient.spki")])
        #expect(ASN1Listing.contents(of: rows[8], in: envelope) == (try peer.read("spki.sha256")))
        #expect(rows[22].length == 256, "an RSA-2048 encryptedKey is 256 bytes")
        #expect(rows[27].length == 16, "AES-CBC's IV is one 16-byte block")
        #expect(rows[28].length == 48 && !rows[28].constructed, "32 bytes and a padding block, primitive")
        #expect(rows[0].offset == 0 && rows[0].headerLength + rows[0].length == envelope.count)
    }

    /// The KMS answers re-encoded in DER by openssl, and an envelope of ours with as many content blocks, list the
    /// same elements at the same offsets with the same lengths: only the random bytes differ.
    @Test(arguments: [("kms-ciphertext-for-recipient", 32), ("kms-ciphertext-for-recipient-implicit-content", 15)])
    func itIsLaidOutLikeKMSsAnswers(vector: String, plaintextLength: Int) async throws {
        let peer = try OpenSSLPeer()
        let kms = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("SecureModuleTests/Vectors/\(vector).ber")
        try await peer.run([
            "cms", "-cmsout", "-inform", "DER", "-in", kms.path, "-outform", "DER", "-out", peer.path("kms.der"),
        ])
        let spki = try await peer.generateRSA("recipient")
        let ours = try EnvelopedDataBuilder.seal(Random.bytes(plaintextLength), toRecipient: spki)
        let kmsListing = try ASN1Listing(try await peer.run(["asn1parse", "-inform", "DER", "-in", peer.path("kms.der")]))
        let ourListing = try ASN1Listing(
            try await peer.run(["asn1parse", "-inform", "DER", "-in", try peer.write(ours, to: "ours.der")])
        )
        #expect(ourListing.rows == kmsListing.rows)
        // The algorithm identifiers byte for byte, as SecureModule's reader finds them.
        let kmsShape = try #require(EnvelopeShape(der: try peer.read("kms.der")))
        let ourShape = try #require(EnvelopeShape(der: ours))
        #expect(ourShape.keyEncryptionAlgorithm.elementsEqual(kmsShape.keyEncryptionAlgorithm))
        #expect(ourShape.version.elementsEqual(kmsShape.version))
        #expect(ourShape.recipientVersion.elementsEqual(kmsShape.recipientVersion))
        #expect(ourShape.recipientIdentifierTag == kmsShape.recipientIdentifierTag)
        #expect(ourShape.isOAEPSHA256 && ourShape.isAES256CBCData)
    }

    /// A recipient key the builder must refuse, and the code it must be refused with.
    struct Refusal: Sendable, CustomTestStringConvertible {
        let testDescription: String
        let expect: EmulatedKMSErrorCode
        let spki: @Sendable (OpenSSLPeer) async throws -> [UInt8]
    }

    static let refusals: [Refusal] = [
        Refusal(testDescription: "a P-256 key", expect: .recipientKeyType) {
            try await $0.generateKey("p256", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"])
        },
        Refusal(testDescription: "an Ed25519 key", expect: .recipientKeyType) {
            try await $0.generateKey("ed25519", ["-algorithm", "ED25519"])
        },
        Refusal(testDescription: "an RSA-PSS key", expect: .recipientKeyType) {
            try await $0.generateKey("pss", ["-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048"])
        },
        Refusal(testDescription: "an RSA-1024 key", expect: .recipientKeySize) {
            try await $0.generateRSA("small", bits: 1024)
        },
        Refusal(testDescription: "an RSA-2040 key", expect: .recipientKeySize) {
            try await $0.generateRSA("short", bits: 2040)
        },
        Refusal(testDescription: "a 4104-bit RSA modulus", expect: .recipientKeySize) { _ in rsaSPKI(modulusBytes: 513)
        },
        Refusal(testDescription: "no bytes", expect: .recipientKeyMalformed) { _ in [] },
        Refusal(testDescription: "text", expect: .recipientKeyMalformed) { _ in Array("not a key".utf8) },
        Refusal(testDescription: "a truncated SubjectPublicKeyInfo", expect: .recipientKeyMalformed) {
            Array(try await $0.generateRSA("recipient").dropLast())
        },
        Refusal(testDescription: "a byte after the SubjectPublicKeyInfo", expect: .recipientKeyMalformed) {
            try await $0.generateRSA("recipient") + [0]
        },
        Refusal(testDescription: "a PEM public key", expect: .recipientKeyMalformed) {
            _ = try await $0.generateRSA("recipient")
            try await $0.run(["pkey", "-in", $0.path("recipient.key"), "-pubout", "-out", $0.path("recipient.pub.pem")])
            return try $0.read("recipient.pub.pem")
        },
        Refusal(testDescription: "a DER private key", expect: .recipientKeyMalformed) {
            _ = try await $0.generateRSA("recipient")
            try await $0.run(["pkey", "-in", $0.path("recipient.key"), "-outform", "DER", "-out", $0.path("recipient.der")])
            return try $0.read("recipient.der")
        },
    ]

    @Test(arguments: refusals)
    func refuses(_ refusal: Refusal) async throws {
        let spki = try await refusal.spki(try OpenSSLPeer())
        #expect(throws: EmulatedKMSError(refusal.expect, "")) {
            try EnvelopedDataBuilder.seal([1, 2, 3], toRecipient: spki)
        }
    }

    @Test func refusesAPlaintextLargerThanKMSAnswers() throws {
        let key = try RecipientKey.generate()
        #expect(throws: EmulatedKMSError(.plaintextTooLarge, "")) {
            try EnvelopedDataBuilder.seal(
                Random.bytes(EnvelopedDataBuilder.maximumPlaintextSize + 1),
                toRecipient: key.publicKeyDER
            )
        }
    }

    /// Each seal draws a new content key and IV: the content keys openssl recovers from two envelopes of the same
    /// plaintext differ, and so do their IVs and ciphertexts.
    @Test func twoSealsOfTheSamePlaintextDiffer() async throws {
        let peer = try OpenSSLPeer()
        let spki = try await peer.generateRSA("recipient")
        let plaintext = Random.bytes(32)
        var contentKeys: [[UInt8]] = []
        var contents: [[UInt8]] = []
        for name in ["first", "second"] {
            let envelope = try EnvelopedDataBuilder.seal(plaintext, toRecipient: spki)
            let rows = try ASN1Listing(
                try await peer.run(["asn1parse", "-inform", "DER", "-in", try peer.write(envelope, to: name)])
            ).rows
            try #require(rows.count == Self.kmsLayout.count)
            _ = try peer.write(ASN1Listing.contents(of: rows[22], in: envelope), to: "\(name).key.enc")
            try await peer.run([
                "pkeyutl", "-decrypt", "-inkey", peer.path("recipient.key"), "-pkeyopt", "rsa_padding_mode:oaep",
                "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256", "-in", peer.path("\(name).key.enc"),
                "-out", peer.path("\(name).key.bin"),
            ])
            contentKeys.append(try peer.read("\(name).key.bin"))
            contents.append(
                ASN1Listing.contents(of: rows[27], in: envelope) + ASN1Listing.contents(of: rows[28], in: envelope)
            )
        }
        #expect(contentKeys.allSatisfy { $0.count == 32 })
        #expect(contentKeys[0] != contentKeys[1])
        #expect(contents[0].prefix(16) != contents[1].prefix(16), "the IVs differ")
        #expect(contents[0].dropFirst(16) != contents[1].dropFirst(16), "the ciphertexts differ")
    }

    /// A SubjectPublicKeyInfo for an RSA "key" whose modulus is `modulusBytes` long with its top bit set; no
    /// key generator makes one of 4104 bits quickly, and the builder refuses it before using it.
    static func rsaSPKI(modulusBytes: Int) -> [UInt8] {
        let modulus: [UInt8] = [0x00, 0xC1] + [UInt8](repeating: 0x5B, count: modulusBytes - 2) + [0x01]
        let rsaPublicKey = DERElement.sequence([.primitive(0x02, modulus), .primitive(0x02, [0x01, 0x00, 0x01])])
        return DERElement.sequence([
            .sequence([.objectIdentifier(NID_rsaEncryption), .null]),
            .primitive(0x03, [0x00] + rsaPublicKey.encoded),
        ]).encoded
    }
}
