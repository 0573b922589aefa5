import CBOR
import Testing

@testable import EnclaveWire

@Suite struct SealingMessageTests {
    static let messages: [SealingMessage] = [
        .generate(id: 1, document: filled(0xD0, 4000)),
        .unseal(id: 2, document: filled(0xD1, 100), sealed: filled(0x5E, 200)),
        .generated(id: 3, sealed: filled(0x5E, 200), enc: filled(0xE0), ciphertext: filled(0xC0, 48)),
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
        Refusal("generate without a document", [0, 1], .malformedMessage),
        Refusal("empty document", [0, 1, .bytes([])], .malformedMessage),
        Refusal("document as text", [0, 1, "doc"], .malformedMessage),
        Refusal("document over 16 KiB", [0, 1, .bytes(filled(1, SealingMessage.maxDocument + 1))], .malformedMessage),
        Refusal("sealed blob over 4 KiB", [1, 1, .bytes([1]), .bytes(filled(1, SealingMessage.maxBlob + 1))], .malformedMessage),
        Refusal("enc over 64 bytes", [3, 1, .bytes(filled(1, 65)), .bytes([1])], .malformedMessage),
        Refusal("an extra field", [3, 1, .bytes([1]), .bytes([1]), .bytes([1])], .malformedMessage),
        Refusal("refused with a number", [4, 1, 7, "x"], .malformedMessage),
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
