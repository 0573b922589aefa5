import CBOR
import Testing

@testable import EnclaveWire

@Suite struct CredentialsMessageTests {
    static let token = String(repeating: "T", count: CredentialsMessage.maxField)

    @Test(arguments: [
        CredentialsMessage.request(id: 0), .request(id: .max),
        .credentials(id: 1, accessKeyID: "ASIAEXAMPLE", secretAccessKey: "s/e+c=r", sessionToken: token, expiration: 1_767_225_600),
        .credentials(id: .max, accessKeyID: "A", secretAccessKey: "B", sessionToken: "C", expiration: 0),
        .refused(id: 2, code: "unavailable", reason: "instance credentials: not fetched yet"), .refused(id: 3, code: "", reason: ""),
    ])
    func roundTrips(message: CredentialsMessage) throws {
        #expect(try CredentialsMessage(encoded: message.encoded) == message)
    }

    @Test(arguments: [
        ("empty", [UInt8]()),
        ("not an array", CBOREncoder.encode(.map(["t": .unsigned(0)]))),
        ("unknown type", CBOREncoder.encode(.array([.unsigned(9), .unsigned(1)]))),
        ("request with a field", CBOREncoder.encode(.array([.unsigned(0), .unsigned(1), .text("x")]))),
        ("credentials missing the expiry", CBOREncoder.encode(.array([.unsigned(1), .unsigned(1), .text("A"), .text("B"), .text("C")]))),
        ("an empty secret", CBOREncoder.encode(.array([.unsigned(1), .unsigned(1), .text("A"), .text(""), .text("C"), .unsigned(1)]))),
        ("a newline in the token", CBOREncoder.encode(.array([.unsigned(1), .unsigned(1), .text("A"), .text("B"), .text("C\nD"), .unsigned(1)]))),
        ("a token too long", CBOREncoder.encode(.array([.unsigned(1), .unsigned(1), .text("A"), .text("B"), .text(token + "T"), .unsigned(1)]))),
        ("a negative expiry", CBOREncoder.encode(.array([.unsigned(1), .unsigned(1), .text("A"), .text("B"), .text("C"), .negative(0)]))),
        ("bytes for text", CBOREncoder.encode(.array([.unsigned(1), .unsigned(1), .bytes([0x41]), .text("B"), .text("C"), .unsigned(1)]))),
        ("truncated", Array(CredentialsMessage.request(id: 300).encoded.dropLast())),
        ("a trailing byte", CredentialsMessage.request(id: 3).encoded + [0]),
        ("a declared length past the end", [0x9B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
    ] as [(String, [UInt8])])
    func refusesMalformedMessages(what: String, bytes: [UInt8]) {
        #expect(throws: WireError.self, "\(what)") { _ = try CredentialsMessage(encoded: bytes) }
    }

    @Test func onlyAnswersCarryAnAnswerNumber() {
        #expect(CredentialsMessage.request(id: 4).answerID == nil)
        #expect(CredentialsMessage.refused(id: 5, code: "c", reason: "r").answerID == 5)
    }
}
