import NitroAttestation
import SecureModule
import Testing

@testable import KeyService

/// The ciphertext text format: one writer, one strict reader, and every hostile string refused by its rule.
@Suite struct DataCiphertextTests {
    static let xaes = DataCiphertext(scheme: .xaes256GCM, version: 7, nonce: Array(0..<24), sealed: Array(100..<133))
    static let legacy = DataCiphertext(scheme: .aes256GCM, version: 2, nonce: Array(0..<12), sealed: Array(100..<116))

    @Test func eachSchemeWritesItsPrefixAndReadsBack() throws {
        #expect(Self.xaes.text.hasPrefix("cloister:xaes:v7:"))
        #expect(Self.legacy.text.hasPrefix("cloister:v2:"))
        for c in [Self.xaes, Self.legacy] { #expect(try DataCiphertext(parsing: c.text) == c) }
        // The smallest of each: a nonce and a tag, nothing encrypted.
        let empty = DataCiphertext(scheme: .xaes256GCM, version: 1, nonce: Array(repeating: 1, count: 24), sealed: Array(repeating: 2, count: 16))
        #expect(try DataCiphertext(parsing: empty.text) == empty)
        let largest = DataCiphertext(scheme: .xaes256GCM, version: .max, nonce: Array(repeating: 1, count: 24), sealed: Array(repeating: 2, count: 16))
        #expect(try DataCiphertext(parsing: largest.text).version == .max)
    }

    /// A text and the rule it breaks.
    struct Hostile: Sendable, CustomTestStringConvertible {
        let text: String
        let code: DataCiphertextErrorCode
        var testDescription: String { "\(code): \(text.prefix(48))" }
    }

    static let bytes40 = Base64.encode(Array(repeating: 9, count: 40))
    static let bytes28 = Base64.encode(Array(repeating: 9, count: 28))

    static let hostile: [Hostile] = [
        Hostile(text: "cloister:xaes:v1:" + String(repeating: "A", count: DataCiphertext.maxTextBytes), code: .oversized),
        Hostile(text: String(repeating: ":", count: DataCiphertext.maxTextBytes + 1), code: .oversized),
        Hostile(text: "", code: .malformed),
        Hostile(text: "nonsense", code: .malformed),
        Hostile(text: "cloister", code: .malformed),
        Hostile(text: "cloister:", code: .malformed),
        Hostile(text: "cloister:v1", code: .malformed),
        Hostile(text: "vault:v1:" + bytes40, code: .malformed),
        Hostile(text: "Cloister:xaes:v1:" + bytes40, code: .malformed),
        Hostile(text: "cloister:xaes:v1:" + bytes40 + ":", code: .malformed),
        Hostile(text: "cloister:xaes:v1:AAAA:" + bytes40, code: .malformed),
        Hostile(text: "cloister:aes:v1:" + bytes40, code: .unknownScheme),
        Hostile(text: "cloister:XAES:v1:" + bytes40, code: .unknownScheme),
        Hostile(text: "cloister::v1:" + bytes40, code: .unknownScheme),
        Hostile(text: "cloister:v1:" + bytes40 + ":", code: .unknownScheme),
        Hostile(text: "cloister:xaes:" + bytes40, code: .badVersion),
        Hostile(text: "cloister:xaes:v0:" + bytes40, code: .badVersion),
        Hostile(text: "cloister:xaes:v01:" + bytes40, code: .badVersion),
        Hostile(text: "cloister:xaes:v+1:" + bytes40, code: .badVersion),
        Hostile(text: "cloister:xaes:v-1:" + bytes40, code: .badVersion),
        Hostile(text: "cloister:xaes:V1:" + bytes40, code: .badVersion),
        Hostile(text: "cloister:xaes:v:" + bytes40, code: .badVersion),
        Hostile(text: "cloister:xaes:1:" + bytes40, code: .badVersion),
        Hostile(text: "cloister:xaes:v18446744073709551616:" + bytes40, code: .badVersion),
        Hostile(text: "cloister:xaes:v1" + String(repeating: "0", count: 20) + ":" + bytes40, code: .badVersion),
        Hostile(text: "cloister:xaes:v１:" + bytes40, code: .badVersion),
        Hostile(text: "cloister:v0:" + bytes28, code: .badVersion),
        Hostile(text: "cloister:xaes:v1:", code: .truncated),
        Hostile(text: "cloister:xaes:v1:%%%%", code: .badBase64),
        Hostile(text: "cloister:xaes:v1:" + bytes40.dropLast(2), code: .badBase64),
        Hostile(text: "cloister:xaes:v1: " + bytes40, code: .badBase64),
        Hostile(text: "cloister:xaes:v1:" + bytes40 + "\n", code: .badBase64),
        Hostile(text: "cloister:xaes:v1:" + bytes40.replacingOccurrences(of: "J", with: "-"), code: .badBase64),
        // Unused low bits set in the last character: the same bytes as another text.
        Hostile(text: "cloister:xaes:v1:" + Base64.encode(Array(repeating: 9, count: 41)).dropLast(3) + "B==", code: .badBase64),
        Hostile(text: "cloister:xaes:v1:" + Base64.encode(Array(repeating: 9, count: 39)), code: .truncated),
        Hostile(text: "cloister:xaes:v1:" + bytes28, code: .truncated),
        Hostile(text: "cloister:v1:" + Base64.encode(Array(repeating: 9, count: 27)), code: .truncated),
        Hostile(text: "cloister:v1:AAAA", code: .truncated),
    ]

    @Test(arguments: hostile)
    func aHostileStringIsRefusedByItsRule(_ h: Hostile) {
        #expect(throws: DataCiphertextError(h.code, "")) { try DataCiphertext(parsing: h.text) }
    }

    /// Each rule of `DataCiphertextErrorCode` has a string above that breaks it.
    @Test func everyRuleIsExercised() {
        #expect(Set(Self.hostile.map(\.code)) == Set(DataCiphertextErrorCode.allCases))
    }

    /// The smallest texts that pass are one nonce and one tag long, for each scheme.
    @Test func theShortestCiphertextsParse() throws {
        #expect(try DataCiphertext(parsing: "cloister:xaes:v1:" + Self.bytes40).sealed.count == 16)
        #expect(try DataCiphertext(parsing: "cloister:v1:" + Self.bytes28).nonce.count == 12)
    }
}
