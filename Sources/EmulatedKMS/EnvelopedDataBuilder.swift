import COpenSSL
import NitroAttestation

/// Makes the CMS EnvelopedData (RFC 5652) AWS KMS answers `Decrypt` and `GenerateRandom` with when the request
/// names a `Recipient` (`CiphertextForRecipient`), in the shape SecureModule's `EnvelopedData.open` accepts.
public enum EnvelopedDataBuilder {
    /// The largest plaintext sealed: KMS never answers more than 4096 bytes (`Decrypt` of its largest ciphertext).
    public static let maximumPlaintextSize = 4096

    /// `plaintext` sealed to the RSA public key `spki` (DER SubjectPublicKeyInfo, as an attestation document's
    /// `public_key` carries it), as DER: one KeyTransRecipientInfo, version 2, naming the key by the SHA-256 of
    /// `spki` (32 bytes, as KMS does), the content key encrypted with RSAES-OAEP, SHA-256 and MGF1-SHA-256 (the
    /// RFC 4055 parameters written out), the content with AES-256-CBC under a fresh key and IV.
    ///
    /// Refuses a key that is not exactly one DER RSA SubjectPublicKeyInfo of 2048 to 4096 bits, and a plaintext
    /// over `maximumPlaintextSize`, each with its own code.
    public static func seal(_ plaintext: [UInt8], toRecipient spki: [UInt8]) throws(EmulatedKMSError) -> [UInt8] {
        guard plaintext.count <= maximumPlaintextSize else {
            throw EmulatedKMSError(.plaintextTooLarge, "\(plaintext.count) bytes is over \(maximumPlaintextSize)")
        }
        let recipient = try RecipientPublicKey(subjectPublicKeyInfo: spki)
        var contentKey = Random.bytes(AES256CBC.keySize)
        defer { OPENSSL_cleanse(&contentKey, contentKey.count) }
        let iv = Random.bytes(AES256CBC.ivSize)
        let encryptedKey = try recipient.encryptOAEPSHA256(contentKey)
        let encryptedContent = try AES256CBC.encrypt(plaintext, key: contentKey, iv: iv)
        return contentInfo(
            subjectKeyIdentifier: SHA.sha256(recipient.subjectPublicKeyInfo),
            encryptedKey: encryptedKey,
            iv: iv,
            encryptedContent: encryptedContent
        ).encoded
    }

    /// ContentInfo (RFC 5652 3) holding the EnvelopedData (6.1): version 2, because the one RecipientInfo is a
    /// version 2 KeyTransRecipientInfo (6.2.1) naming the key by subject key identifier.
    static func contentInfo(
        subjectKeyIdentifier: [UInt8],
        encryptedKey: [UInt8],
        iv: [UInt8],
        encryptedContent: [UInt8]
    ) -> DERElement {
        let recipientInfo = DERElement.sequence([
            .integer(2),
            .primitive(0x80, subjectKeyIdentifier),  // rid: [0] IMPLICIT SubjectKeyIdentifier
            oaepSHA256,
            .octetString(encryptedKey),
        ])
        let encryptedContentInfo = DERElement.sequence([
            .objectIdentifier(NID_pkcs7_data),
            .sequence([.objectIdentifier(NID_aes_256_cbc), .octetString(iv)]),
            .primitive(0x80, encryptedContent),  // [0] IMPLICIT EncryptedContent
        ])
        let envelopedData = DERElement.sequence([.integer(2), .set(of: recipientInfo), encryptedContentInfo])
        return .sequence([.objectIdentifier(NID_pkcs7_enveloped), .constructed(0x80, [envelopedData])])
    }

    /// RSAES-OAEP with its RSAES-OAEP-params written out (RFC 4055 section 3.1) as KMS writes them: hashAlgorithm
    /// SHA-256 and maskGenAlgorithm MGF1 with SHA-256, each hash with NULL parameters; pSourceAlgorithm left to its
    /// default, the empty label.
    static let oaepSHA256: DERElement = {
        let sha256 = DERElement.sequence([.objectIdentifier(NID_sha256), .null])
        let mgf1SHA256 = DERElement.sequence([.objectIdentifier(NID_mgf1), sha256])
        return .sequence([
            .objectIdentifier(NID_rsaesOaep),
            .sequence([.constructed(0x80, [sha256]), .constructed(0x81, [mgf1SHA256])]),
        ])
    }()
}
