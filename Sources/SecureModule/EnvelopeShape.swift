/// The fields of a CMS EnvelopedData that libcrypto parses but has no getter for, read from libcrypto's own DER
/// re-encoding of the ContentInfo (RFC 5652 sections 3, 6.1, 6.2.1). Only a single KeyTransRecipientInfo is read.
struct EnvelopeShape {
    /// EnvelopedData.version.
    let version: ArraySlice<UInt8>
    /// KeyTransRecipientInfo.version.
    let recipientVersion: ArraySlice<UInt8>
    /// The tag of KeyTransRecipientInfo.rid: 0x80 for a subject key identifier, 0x30 for issuer and serial.
    let recipientIdentifierTag: UInt8
    /// The contents of KeyTransRecipientInfo.keyEncryptionAlgorithm.
    let keyEncryptionAlgorithm: ArraySlice<UInt8>
    /// The contents of EncryptedContentInfo.
    let encryptedContentInfo: ArraySlice<UInt8>

    /// The shape of `der`, or nil when a part is not where RFC 5652 puts it.
    init?(der: [UInt8]) {
        var top = DERReader(der[...])
        guard let contentInfo = top.read(0x30), top.isAtEnd else { return nil }
        var info = DERReader(contentInfo)
        guard info.read(0x06) != nil, let explicit = info.read(0xA0), info.isAtEnd else { return nil }
        var wrapper = DERReader(explicit)
        guard let enveloped = wrapper.read(0x30), wrapper.isAtEnd else { return nil }
        var fields = DERReader(enveloped)
        guard let version = fields.read(0x02) else { return nil }
        if fields.nextTag == 0xA0 { _ = fields.read() }  // originatorInfo: certificates and CRLs, not judged
        guard let recipients = fields.read(0x31), let encrypted = fields.read(0x30) else { return nil }
        if fields.nextTag == 0xA1 { _ = fields.read() }  // unprotectedAttrs: not judged
        guard fields.isAtEnd else { return nil }
        var set = DERReader(recipients)
        guard let transport = set.read(0x30), set.isAtEnd else { return nil }
        var recipient = DERReader(transport)
        guard let recipientVersion = recipient.read(0x02), let rid = recipient.nextTag, recipient.read() != nil,
            let algorithm = recipient.read(0x30), recipient.read(0x04) != nil, recipient.isAtEnd
        else { return nil }
        self.version = version
        self.recipientVersion = recipientVersion
        recipientIdentifierTag = rid
        keyEncryptionAlgorithm = algorithm
        encryptedContentInfo = encrypted
    }

    /// Whether the key encryption algorithm is RSAES-OAEP (RFC 8017 A.2.1) with SHA-256, MGF1 with SHA-256 and the
    /// default empty label. The hash AlgorithmIdentifiers may carry NULL parameters or none (RFC 4055 section 2.1).
    var isOAEPSHA256: Bool {
        var algorithm = DERReader(keyEncryptionAlgorithm)
        guard algorithm.read(0x06) == OID.rsaesOAEP[...], let parameters = algorithm.read(0x30), algorithm.isAtEnd
        else { return false }
        var oaep = DERReader(parameters)
        guard let hash = oaep.read(0xA0), let mask = oaep.read(0xA1), oaep.isAtEnd else { return false }
        var hashWrapper = DERReader(hash)
        guard let hashAlgorithm = hashWrapper.read(0x30), hashWrapper.isAtEnd, Self.isSHA256(hashAlgorithm) else {
            return false
        }
        var maskWrapper = DERReader(mask)
        guard let maskAlgorithm = maskWrapper.read(0x30), maskWrapper.isAtEnd else { return false }
        var mgf = DERReader(maskAlgorithm)
        guard mgf.read(0x06) == OID.mgf1[...], let mgfHash = mgf.read(0x30), mgf.isAtEnd else { return false }
        return Self.isSHA256(mgfHash)
    }

    /// Whether the encrypted content is id-data under AES-256-CBC with a 16-byte IV, and present.
    var isAES256CBCData: Bool {
        var fields = DERReader(encryptedContentInfo)
        guard fields.read(0x06) == OID.data[...], let algorithm = fields.read(0x30), fields.read(0x80) != nil,
            fields.isAtEnd
        else { return false }
        var cipher = DERReader(algorithm)
        guard cipher.read(0x06) == OID.aes256CBC[...], let iv = cipher.read(0x04), iv.count == 16, cipher.isAtEnd
        else { return false }
        return true
    }

    private static func isSHA256(_ algorithmIdentifier: ArraySlice<UInt8>) -> Bool {
        var fields = DERReader(algorithmIdentifier)
        guard fields.read(0x06) == OID.sha256[...] else { return false }
        if fields.isAtEnd { return true }
        return fields.read(0x05)?.isEmpty == true && fields.isAtEnd
    }

    /// The contents of the object identifiers the envelope is judged by.
    enum OID {
        static let data: [UInt8] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01]
        static let rsaesOAEP: [UInt8] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x07]
        static let mgf1: [UInt8] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x08]
        static let sha256: [UInt8] = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01]
        static let aes256CBC: [UInt8] = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2A]
    }
}
