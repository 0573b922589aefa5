import CBOR
import Testing

@testable import EnclaveWire

/// The structures of sealed, signed calls: round trips, every prefix refused, and malformed ones refused by code.
@Suite struct SealedRequestTests {
    static let requests = [
        SealedRequest(boot: filled(0xB0), enc: filled(0xE0), ciphertext: filled(0xC0, 48), expiry: 1_800_000_000_000),
        SealedRequest(boot: filled(0xB0), enc: filled(0xE0), ciphertext: filled(0xC0, 200), expiry: 1, approvals: [Approval(credential: filled(0xCC), signature: filled(0x51, 64))]),
        SealedRequest(
            boot: filled(0xB0), enc: filled(0xE0), ciphertext: filled(0xC0, 20), expiry: 2,
            approvals: [
                Approval(credential: filled(0xCC), signature: filled(0x51, 64)),
                Approval(credential: filled(0xCD), signature: filled(0x52, 70), authenticatorData: filled(0xAD, 37), clientDataJSON: Array("{}".utf8)),
            ]),
    ]

    @Test(arguments: requests)
    func requestsRoundTripAndEveryPrefixIsRefused(_ r: SealedRequest) throws {
        #expect(try SealedRequest(encoded: r.encoded) == r)
        expectEveryPrefixRefused(r.encoded, with: EnvelopeError(.malformed, "")) { bytes throws(EnvelopeError) in _ = try SealedRequest(encoded: bytes) }
    }

    static func request(_ edit: (inout CBORMap) -> Void) -> [UInt8] {
        var map: CBORMap = ["v": 1, "boot": .bytes(filled(1)), "enc": .bytes(filled(2)), "ct": .bytes(filled(3, 40)), "expiry": 5]
        edit(&map)
        return CBOREncoder.encode(.map(map))
    }

    static let refusals: [Refusal<EnvelopeError.Code>] = [
        Refusal("version 2", bytes: request { $0[.text("v")] = 2 }, .unsupportedVersion),
        Refusal("a boot of 31 bytes", bytes: request { $0[.text("boot")] = .bytes(filled(1, 31)) }, .malformed),
        Refusal("an enc of 33 bytes", bytes: request { $0[.text("enc")] = .bytes(filled(1, 33)) }, .malformed),
        Refusal("a ciphertext shorter than a tag", bytes: request { $0[.text("ct")] = .bytes(filled(1, 15)) }, .malformed),
        Refusal("an empty list of approvals", bytes: request { $0[.text("approvals")] = .array([]) }, .malformed),
        Refusal("17 approvals", bytes: request { $0[.text("approvals")] = .array(Array(repeating: Approval(credential: filled(1), signature: [1]).cbor, count: 17)) }, .malformed),
        Refusal("an approval without a signature", bytes: request { $0[.text("approvals")] = [.map(["cred": .bytes(filled(1))])] }, .malformed),
        Refusal("an approval's credential id of 31 bytes", bytes: request { $0[.text("approvals")] = [.map(["cred": .bytes(filled(1, 31)), "sig": .bytes([1])])] }, .malformed),
        Refusal("a signature over 512 bytes", bytes: request { $0[.text("approvals")] = [.map(["cred": .bytes(filled(1)), "sig": .bytes(filled(1, 513))])] }, .malformed),
        Refusal("authenticator data without client data", bytes: request { $0[.text("approvals")] = [.map(["cred": .bytes(filled(1)), "sig": .bytes([1]), "authData": .bytes([1])])] }, .malformed),
        Refusal("a top-level signature", bytes: request { $0[.text("sig")] = .bytes(filled(1)) }, .malformed),
        Refusal("an unknown field", bytes: request { $0[.text("tenant")] = "acme" }, .malformed),
        Refusal("no expiry", bytes: request { $0[.text("expiry")] = nil }, .malformed),
        Refusal("a negative expiry", bytes: request { $0[.text("expiry")] = .negative(0) }, .malformed),
        Refusal("a duplicated key", bytes: [0xA2, 0x61, 0x76, 0x01, 0x61, 0x76, 0x01], .malformed),
        Refusal("an array", [1, 2], .malformed),
        Refusal("a huge declared map", bytes: [0xBB, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], .malformed),
    ]

    @Test(arguments: refusals)
    func malformedRequestsAreRefused(_ r: Refusal<EnvelopeError.Code>) {
        #expect(throws: EnvelopeError(r.code, "")) { try SealedRequest(encoded: r.bytes) }
    }

    @Test func innerResultAndCredentialRoundTrip() throws {
        let inner = SealedRequest.Inner(body: Array("{}".utf8), reply: filled(7))
        #expect(try SealedRequest.Inner(encoded: inner.encoded) == inner)
        #expect(throws: EnvelopeError(.malformed, "")) { try SealedRequest.Inner(encoded: CBOREncoder.encode(.map(["body": .bytes([1]), "reply": .bytes(filled(7, 31))]))) }
        let result = SealedResult(enc: filled(1), ciphertext: filled(2, 20))
        #expect(try SealedResult(encoded: result.encoded) == result)
        expectEveryPrefixRefused(result.encoded, with: EnvelopeError(.malformed, "")) { bytes throws(EnvelopeError) in _ = try SealedResult(encoded: bytes) }
        let credential = Credential(kind: .ecdsaP256, spki: filled(4, 91), label: "ci")
        #expect(try Credential(encoded: credential.encoded) == credential)
        #expect(throws: EnvelopeError(.malformed, "")) { try Credential(encoded: CBOREncoder.encode(.map(["kind": "rsa", "spki": .bytes([1])]))) }
    }

    /// The action digest, against an independent encoder:
    /// python3 -c 'import cbor2,hashlib; print(hashlib.sha256(cbor2.dumps(["cloister-action/1", bytes([1])*32, bytes([2])*32, "acme", "key.sign", "r1", bytes([3])*32, 1800000000000])).hexdigest())'
    @Test func theActionDigestMatchesAnIndependentEncoder() {
        let a = Action(deployment: filled(1), boot: filled(2), tenant: "acme", operation: "key.sign", requestID: "r1", requestHash: filled(3), expiry: 1_800_000_000_000)
        #expect(hex(a.digest) == "74d963321519379aa9a4379ecadabb06eda61f9bbb006d00c2d3022fede86e7b")
        var other = a
        other.expiry += 1
        #expect(other.digest != a.digest)
    }
}

extension SealedRequest: CustomTestStringConvertible {
    public var testDescription: String { "sealed request (\(approvals.count) approvals)" }
}
