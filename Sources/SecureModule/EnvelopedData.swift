import COpenSSL

/// Opens a CMS EnvelopedData (RFC 5652) of the one shape KMS answers `Decrypt` with a `Recipient` in
/// (`CiphertextForRecipient`): one KeyTransRecipientInfo, version 2, naming the recipient key by subject key
/// identifier; RSAES-OAEP with SHA-256 and MGF1-SHA-256 for the content key; AES-256-CBC for the content.
public enum EnvelopedData {
    /// The largest envelope read; KMS's for a 4 KiB plaintext is well under it.
    public static let maximumSize = 64 * 1024

    /// The plaintext of `der` (BER, definite or indefinite lengths), which must be exactly `expectedLength` bytes.
    ///
    /// Every rule of docs/cms.md is checked before anything is decrypted, and the content key is decrypted with
    /// `key` explicitly, so a wrong key fails with `decryptFailed` rather than yielding a random plaintext. The
    /// caller still checks the plaintext against what it expects (a commitment): CBC is not authenticated.
    public static func open(_ der: [UInt8], with key: RecipientKey, expectedLength: Int) throws(CMSError) -> [UInt8] {
        guard !der.isEmpty, der.count <= maximumSize else {
            throw CMSError(.malformed, "an envelope of \(der.count) bytes is outside 1...\(maximumSize)")
        }
        let cms = try parse(der)
        defer { CMS_ContentInfo_free(cms) }
        let recipient = try check(cms, for: key)
        return try decrypt(cms, recipient: recipient, with: key, expectedLength: expectedLength)
    }

    /// The ContentInfo in `der`, which must hold nothing after it.
    private static func parse(_ der: [UInt8]) throws(CMSError) -> OpaquePointer {
        var consumed = 0
        let cms: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            let parsed = d2i_CMS_ContentInfo(nil, &cursor, buffer.count)
            if let cursor, let base = buffer.baseAddress { consumed = cursor - base }
            return parsed
        }
        ERR_clear_error()
        guard let cms else { throw CMSError(.malformed, "not a BER CMS ContentInfo") }
        guard consumed == der.count else {
            CMS_ContentInfo_free(cms)
            throw CMSError(.malformed, "\(der.count - consumed) bytes after the ContentInfo")
        }
        return cms
    }

    /// The one KeyTransRecipientInfo of `cms`, once every rule before decryption holds.
    private static func check(_ cms: OpaquePointer, for key: RecipientKey) throws(CMSError) -> OpaquePointer {
        guard OBJ_obj2nid(CMS_get0_type(cms)) == NID_pkcs7_enveloped else {
            throw CMSError(.notEnvelopedData, "the content type is not id-envelopedData")
        }
        let recipients = CMS_get0_RecipientInfos(cms)
        let count = recipients.map { cloister_sk_CMS_RecipientInfo_num($0) } ?? 0
        guard count == 1, let recipients, let recipient = cloister_sk_CMS_RecipientInfo_value(recipients, 0) else {
            throw CMSError(.recipientCount, "\(count) recipient infos, not one")
        }
        guard CMS_RecipientInfo_type(recipient) == CMS_RECIPINFO_TRANS else {
            throw CMSError(.recipientType, "the recipient info is not a KeyTransRecipientInfo")
        }
        guard let shape = EnvelopeShape(der: try reencoded(cms)) else {
            throw CMSError(.malformed, "the EnvelopedData's parts are not where RFC 5652 puts them")
        }
        guard shape.recipientVersion.elementsEqual([2]), shape.recipientIdentifierTag == 0x80 else {
            throw CMSError(.recipientVersion, "the KeyTransRecipientInfo is not version 2 with a subject key identifier")
        }
        guard shape.version.elementsEqual([2]) else { throw CMSError(.envelopeVersion, "EnvelopedData version is not 2") }
        guard shape.isOAEPSHA256 else {
            throw CMSError(.keyEncryptionAlgorithm, "the key encryption is not RSAES-OAEP with SHA-256 and MGF1-SHA-256")
        }
        guard shape.isAES256CBCData else {
            throw CMSError(.contentEncryptionAlgorithm, "the content is not id-data under AES-256-CBC")
        }
        // Last, so that an envelope for another key is known to have passed every other rule.
        guard let identifier = subjectKeyIdentifier(recipient), key.isNamed(by: identifier) else {
            throw CMSError(.recipientMismatch, "the subject key identifier is not this recipient key's")
        }
        return recipient
    }

    /// libcrypto's DER encoding of the ContentInfo it parsed: definite lengths, one primitive string per field.
    private static func reencoded(_ cms: OpaquePointer) throws(CMSError) -> [UInt8] {
        let length = i2d_CMS_ContentInfo(cms, nil)
        guard length > 0 else { throw CMSError(.malformed, "libcrypto cannot re-encode the ContentInfo") }
        var der = [UInt8](repeating: 0, count: Int(length))
        let written = der.withUnsafeMutableBufferPointer { out in
            var cursor: UnsafeMutablePointer<UInt8>? = out.baseAddress
            return i2d_CMS_ContentInfo(cms, &cursor)
        }
        guard written == length else { throw CMSError(.malformed, "libcrypto cannot re-encode the ContentInfo") }
        return der
    }

    private static func subjectKeyIdentifier(_ recipient: OpaquePointer) -> [UInt8]? {
        var keyID: UnsafeMutablePointer<ASN1_OCTET_STRING>?
        var issuer: OpaquePointer?
        var serial: UnsafeMutablePointer<ASN1_INTEGER>?
        guard CMS_RecipientInfo_ktri_get0_signer_id(recipient, &keyID, &issuer, &serial) == 1, let keyID,
            let data = ASN1_STRING_get0_data(keyID)
        else { return nil }
        return Array(UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(keyID))))
    }

    /// Decrypts the content key with `key` (not through `CMS_decrypt` with a key and no certificate, which answers a
    /// failure with a random content key), then the content.
    private static func decrypt(
        _ cms: OpaquePointer, recipient: OpaquePointer, with key: RecipientKey, expectedLength: Int
    ) throws(CMSError) -> [UInt8] {
        // set0 frees the key it replaces: the reference taken here is the one setting nil gives back.
        guard EVP_PKEY_up_ref(key.pointer) == 1 else { throw CMSError(.internalError, "EVP_PKEY_up_ref") }
        guard CMS_RecipientInfo_set0_pkey(recipient, key.pointer) == 1 else {
            EVP_PKEY_free(key.pointer)
            throw CMSError(.internalError, "CMS_RecipientInfo_set0_pkey")
        }
        let unwrapped = CMS_RecipientInfo_decrypt(cms, recipient)
        _ = CMS_RecipientInfo_set0_pkey(recipient, nil)
        ERR_clear_error()
        guard unwrapped == 1 else { throw CMSError(.decryptFailed, "the content key does not decrypt with this key") }
        guard let out = BIO_new(BIO_s_mem()) else { throw CMSError(.internalError, "BIO_new") }
        defer { BIO_free(out) }
        let decrypted = CMS_decrypt(cms, nil, nil, nil, out, UInt32(CMS_BINARY))
        ERR_clear_error()
        guard decrypted == 1 else { throw CMSError(.decryptFailed, "the content does not decrypt with the content key") }
        var data: UnsafeMutablePointer<CChar>?
        let length = cloister_BIO_get_mem_data(out, &data)
        guard length == expectedLength else {
            throw CMSError(.lengthMismatch, "the plaintext is \(length) bytes, not \(expectedLength)")
        }
        guard let data else { return [] }
        return Array(UnsafeRawBufferPointer(start: data, count: length))
    }
}
