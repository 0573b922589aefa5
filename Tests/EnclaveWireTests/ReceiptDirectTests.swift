import CBOR
import Testing

@testable import EnclaveWire

/// `Receipt(encoded:)` reads the deterministic form directly: it must accept exactly what the general decoder
/// accepts, with the same value, and leave every refusal (and its code) to the general decoder.
@Suite struct ReceiptDirectTests {
    static let receipts: [Receipt] = {
        var full = ReceiptTests.sample
        full.sequence = 300
        full.time = 1 << 40
        full.tenantRoot = [UInt8](repeating: 0x70, count: 32)
        full.approvers = [[UInt8](repeating: 1, count: 32), [UInt8](repeating: 2, count: 32)]
        var rootOnly = ReceiptTests.sample
        rootOnly.tenantRoot = [UInt8](repeating: 0x71, count: 32)
        var approversOnly = ReceiptTests.sample
        approversOnly.approvers = []
        approversOnly.sequence = 70_000
        return [ReceiptTests.sample, full, rootOnly, approversOnly]
    }()

    /// The outcome of a parse, comparable: the receipt, or the error's code.
    enum Outcome: Equatable {
        case receipt(Receipt)
        case refused(EnvelopeError.Code)
    }

    static func outcome(_ parse: () throws(EnvelopeError) -> Receipt) -> Outcome {
        do { return .receipt(try parse()) } catch { return .refused(error.code) }
    }

    static func expectSame(_ bytes: [UInt8], _ comment: Comment) {
        let general = outcome { () throws(EnvelopeError) in try Receipt(decoding: bytes) }
        let either = outcome { () throws(EnvelopeError) in try Receipt(encoded: bytes) }
        #expect(general == either, comment)
        if let direct = Receipt.direct(bytes) { #expect(general == .receipt(direct), comment) }
    }

    @Test(arguments: receipts)
    func theDirectReadingIsTheGeneralOne(_ receipt: Receipt) throws {
        let bytes = receipt.encoded
        #expect(Receipt.direct(bytes) == receipt)
        #expect(try Receipt(decoding: bytes) == receipt)
    }

    @Test(arguments: receipts)
    func everyAlteredByteIsJudgedAsTheGeneralDecoderJudgesIt(_ receipt: Receipt) {
        let bytes = receipt.encoded
        for i in bytes.indices {
            for flip: UInt8 in [0x01, 0x02, 0x10, 0x20, 0x80, 0xFF] {
                var altered = bytes
                altered[i] ^= flip
                Self.expectSame(altered, "byte \(i) ^ \(flip)")
            }
            Self.expectSame(Array(bytes[..<i]), "cut at \(i)")
            Self.expectSame(Array(bytes[..<i] + [0x00] + bytes[i...]), "a byte inserted at \(i)")
        }
        Self.expectSame(bytes + [0x00], "a byte appended")
    }

    @Test func nonShortestHeadsAndOtherOrdersGoToTheGeneralDecoder() {
        // seq 7 written with a one-byte argument; the map with its keys in another order.
        var widened = ReceiptTests.sample.encoded
        let key: [UInt8] = [0x63, 0x73, 0x65, 0x71]  // "seq"
        let at = (0...(widened.count - 4)).first { Array(widened[$0..<$0 + 4]) == key }! + 4
        #expect(widened[at] == 0x07)
        widened.replaceSubrange(at...at, with: [0x18, 0x07])
        #expect(Receipt.direct(widened) == nil)
        Self.expectSame(widened, "non-shortest seq")
        let reordered = CBOREncoder.encode(.map(CBORMap(ReceiptTests.fields().reversed().map { (CBOR.text($0.0), $0.1) })))
        #expect(Receipt.direct(reordered) == nil)
        Self.expectSame(reordered, "keys in another order")
    }
}
