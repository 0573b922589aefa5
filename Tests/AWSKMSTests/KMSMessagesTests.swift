import AWSKMS
import Foundation
import NitroAttestation
import Testing

@Suite struct KMSMessagesTests {
    func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(json.utf8))
    }

    func roundTrip<T: Codable & Equatable>(_ value: T) throws {
        let data = try JSONEncoder().encode(value)
        #expect(try JSONDecoder().decode(T.self, from: data) == value)
    }

    @Test func everyMessageRoundTrips() throws {
        let document = KMSRecipientInfo(attestationDocument: Array(repeating: 0xD2, count: 5000))
        try roundTrip(KMSEncryptRequest(keyID: "alias/master", plaintext: [1, 2, 3], encryptionContext: ["a": "b"]))
        try roundTrip(
            KMSEncryptResponse(
                ciphertextBlob: [9, 9],
                keyID: "arn:aws:kms:eu-west-1:1:key/k",
                encryptionAlgorithm: "SYMMETRIC_DEFAULT"
            )
        )
        try roundTrip(KMSDecryptRequest(ciphertextBlob: [7], encryptionContext: [:], keyID: "k", recipient: document))
        try roundTrip(KMSDecryptResponse(keyID: "k", ciphertextForRecipient: [1]))
        try roundTrip(KMSGenerateRandomRequest(numberOfBytes: 32, recipient: document))
        try roundTrip(KMSGenerateRandomResponse(plaintext: Array(repeating: 1, count: 32)))
        try roundTrip(KMSErrorBody(type: "NotFoundException", message: "no key"))
    }

    @Test func fieldNamesAreAWSs() throws {
        let body = try JSONEncoder().encode(
            KMSDecryptRequest(
                ciphertextBlob: [0xFF],
                encryptionContext: ["k": "v"],
                keyID: "id",
                recipient: KMSRecipientInfo(attestationDocument: [1])
            )
        )
        let object = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        #expect(Set(object.keys) == ["CiphertextBlob", "EncryptionContext", "KeyId", "Recipient"])
        #expect(object["CiphertextBlob"] as? String == "/w==")
        let recipient = try #require(object["Recipient"] as? [String: String])
        #expect(recipient == ["AttestationDocument": "AQ==", "KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256"])
    }

    /// KMS documents `Plaintext` as "null or empty" when it answers to a recipient: an empty string is no plaintext,
    /// and the envelope is what counts.
    @Test func anEmptyPlaintextBesideAnEnvelopeIsNone() throws {
        let decrypt = try decode(KMSDecryptResponse.self, #"{"KeyId":"arn:aws:kms:us-east-1:111122223333:key/k","Plaintext":"","CiphertextForRecipient":"MIAGCSqGSIb3DQEHA6CAMIACAQI="}"#)
        #expect(decrypt.plaintext == nil)
        #expect(decrypt.ciphertextForRecipient?.isEmpty == false)
        let random = try decode(KMSGenerateRandomResponse.self, #"{"Plaintext":null,"CiphertextForRecipient":"AAEC"}"#)
        #expect(random.plaintext == nil)
        #expect(try decode(KMSDecryptResponse.self, #"{"Plaintext":"AAEC"}"#).plaintext == [0, 1, 2])
    }

    @Test func errorBodyReadsEitherSpellingOfMessage() throws {
        #expect(try decode(KMSErrorBody.self, #"{"__type":"X","message":"lower"}"#).message == "lower")
        #expect(try decode(KMSErrorBody.self, #"{"__type":"X","Message":"upper"}"#).message == "upper")
        #expect(try decode(KMSErrorBody.self, #"{"__type":"com.amazonaws.kms#DisabledException"}"#).code == .disabled)
    }

    @Test func unknownFieldsAreIgnored() throws {
        let r = try decode(KMSEncryptResponse.self, #"{"CiphertextBlob":"AQI=","KeyId":"k","Later":{"x":[1]}}"#)
        #expect(r.ciphertextBlob == [1, 2])
    }

    /// Hostile or broken messages, each refused by decoding (the client reports them as `malformedAnswer`, an
    /// emulated KMS as `ValidationException`).
    static let refused: [(String, String)] = [
        ("base64 with a character outside the alphabet", #"{"KeyId":"k","Plaintext":"AQ*="}"#),
        ("URL-safe base64", #"{"KeyId":"k","Plaintext":"_w=="}"#),
        ("base64 without padding", #"{"KeyId":"k","Plaintext":"AQ"}"#),
        ("base64 with whitespace", #"{"KeyId":"k","Plaintext":"AQ== "}"#),
        ("non-canonical trailing bits", #"{"KeyId":"k","Plaintext":"AR=="}"#),
        ("empty plaintext", #"{"KeyId":"k","Plaintext":""}"#),
        (
            "plaintext of 4097 bytes",
            #"{"KeyId":"k","Plaintext":"\#(Base64.encode(Array(repeating: 0, count: 4097)))"}"#
        ),
        ("plaintext as a number", #"{"KeyId":"k","Plaintext":12}"#),
        ("empty key id", #"{"KeyId":"","Plaintext":"AQ=="}"#),
        ("key id of 2049 bytes", #"{"KeyId":"\#(String(repeating: "k", count: 2049))","Plaintext":"AQ=="}"#),
        ("missing key id", #"{"Plaintext":"AQ=="}"#),
        (
            "encryption context over 8192 bytes",
            #"{"KeyId":"k","Plaintext":"AQ==","EncryptionContext":{"a":"\#(String(repeating: "v", count: 8192))"}}"#
        ),
        ("encryption context with a number", #"{"KeyId":"k","Plaintext":"AQ==","EncryptionContext":{"a":1}}"#),
    ]

    @Test(arguments: refused)
    func encryptRequestRefuses(_ why: String, json: String) {
        #expect(throws: DecodingError.self, "\(why)") { try decode(KMSEncryptRequest.self, json) }
    }

    @Test func sizeBoundsAreInclusive() throws {
        let max = Base64.encode(Array(repeating: 7, count: KMSLimits.maxPlaintext))
        #expect(try decode(KMSEncryptRequest.self, #"{"KeyId":"k","Plaintext":"\#(max)"}"#).plaintext.count == 4096)
        let blob = Base64.encode(Array(repeating: 7, count: KMSLimits.maxCiphertext))
        #expect(try decode(KMSDecryptRequest.self, #"{"CiphertextBlob":"\#(blob)"}"#).ciphertextBlob.count == 65536)
        let over = Base64.encode(Array(repeating: 7, count: KMSLimits.maxCiphertext + 1))
        #expect(throws: DecodingError.self) { try decode(KMSDecryptRequest.self, #"{"CiphertextBlob":"\#(over)"}"#) }
        #expect(throws: DecodingError.self) {
            try decode(KMSDecryptResponse.self, #"{"CiphertextForRecipient":"\#(over)"}"#)
        }
        #expect(throws: DecodingError.self) {
            try decode(
                KMSDecryptRequest.self,
                #"{"CiphertextBlob":"AQ==","Recipient":{"AttestationDocument":"\#(over)","KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}"#
            )
        }
    }

    @Test(arguments: [0, 1025, -1])
    func numberOfBytesOutside1To1024IsRefused(n: Int) {
        #expect(throws: DecodingError.self) { try decode(KMSGenerateRandomRequest.self, #"{"NumberOfBytes":\#(n)}"#) }
    }

    @Test func onlyRSAESOAEPSHA256IsAcceptedForARecipient() throws {
        let json =
            #"{"NumberOfBytes":32,"Recipient":{"AttestationDocument":"AQ==","KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_1"}}"#
        #expect(throws: DecodingError.self) { try decode(KMSGenerateRandomRequest.self, json) }
        let ok = json.replacingOccurrences(of: "SHA_1", with: "SHA_256")
        #expect(try decode(KMSGenerateRandomRequest.self, ok).recipient?.attestationDocument == [1])
    }
}
