import CBOR
import Testing

@testable import EnclaveWire

@Suite struct SealingMessageTests {
    static let messages: [SealingMessage] = [
        .describe(id: 0),
        .serviceKey(id: 7, key: filled(0x4B), signature: filled(0x51, 96)),
        .seal(id: 8, context: Array("cloister-master/1".utf8), enc: filled(0xE2), ciphertext: filled(0xC2, 48)),
        .sealed(id: 9, sealed: filled(0x5E, 200)),
        .unseal(id: 2, document: filled(0xD1, 100), sealed: filled(0x5E, 200)),
        .released(id: 4, enc: filled(0xE1), ciphertext: filled(0xC1, 48)),
        .refused(id: UInt64.max, code: "pcrPolicyMismatch", reason: "PCR0 differs"),
    ]

    @Test(arguments: messages)
    func roundTripsAndEveryPrefixIsRefused(_ message: SealingMessage) throws {
        #expect(try SealingMessage(encoded: message.encoded) == message)
        expectEveryPrefixRefused(message.encoded, with: WireError(.malformedCBOR)) { bytes throws(WireError) in _ = try SealingMessage(encoded: bytes) }
    }

    static let refusals: [Refusal<WireError.Code>] = [
        Refusal("unknown tag", [9, 1], .malformedMessage),
        Refusal("no id", [0], .malformedMessage),
        Refusal("describe with a field", [0, 1, .bytes([1])], .malformedMessage),
        Refusal("unseal without a blob", [4, 1, .bytes([1])], .malformedMessage),
        Refusal("empty document", [4, 1, .bytes([]), .bytes([1])], .malformedMessage),
        Refusal("document as text", [4, 1, "doc", .bytes([1])], .malformedMessage),
        Refusal("document over 16 KiB", [4, 1, .bytes(filled(1, SealingMessage.maxDocument + 1)), .bytes([1])], .malformedMessage),
        Refusal("sealed blob over 4 KiB", [4, 1, .bytes([1]), .bytes(filled(1, SealingMessage.maxBlob + 1))], .malformedMessage),
        Refusal("a service key of 31 bytes", [1, 1, .bytes(filled(1, 31)), .bytes([1])], .malformedMessage),
        Refusal("an enc of 33 bytes", [5, 1, .bytes(filled(1, 33)), .bytes([1])], .malformedMessage),
        Refusal("a seal context over 256 bytes", [2, 1, .bytes(filled(1, 257)), .bytes(filled(1, 32)), .bytes([1])], .malformedMessage),
        Refusal("a seal ciphertext over 256 bytes", [2, 1, .bytes([1]), .bytes(filled(1, 32)), .bytes(filled(1, 257))], .malformedMessage),
        Refusal("an extra field", [5, 1, .bytes(filled(1, 32)), .bytes([1]), .bytes([1])], .malformedMessage),
        Refusal("refused with a number", [6, 1, 7, "x"], .malformedMessage),
        Refusal("a map", .map([.unsigned(0): .unsigned(1)]), .malformedMessage),
        Refusal("not CBOR", bytes: [0xFF], .malformedCBOR),
        Refusal("a huge declared array", bytes: [0x9B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], .malformedCBOR),
    ]

    @Test(arguments: refusals)
    func malformedMessagesAreRefusedWithTheirCode(_ r: Refusal<WireError.Code>) {
        #expect(throws: WireError(r.code)) { try SealingMessage(encoded: r.bytes) }
    }
}

extension SealingMessage: CustomTestStringConvertible {
    public var testDescription: String { "\(encoded.prefix(2))" }
}
