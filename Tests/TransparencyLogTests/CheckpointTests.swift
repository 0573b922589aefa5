import NitroAttestation
import Testing

@testable import TransparencyLog

@Suite struct CheckpointTests {
    static let root = Base64.encode(TreeHash.leaf([1]))

    struct Bad: Sendable, CustomTestStringConvertible {
        let text: String
        let code: TransparencyLogErrorCode
        var testDescription: String { text.debugDescription }
    }

    static let bad: [Bad] = [
        .init(text: "o\n5\n", code: .malformedCheckpoint),
        .init(text: "o\n5\n\(root)", code: .malformedCheckpoint),
        .init(text: "o\n5\n\(root)\n\n", code: .malformedCheckpoint),
        .init(text: "o\n5\n\(root)\next\n\nmore\n", code: .malformedCheckpoint),
        .init(text: "\n5\n\(root)\n", code: .invalidOrigin),
        .init(text: "o\n05\n\(root)\n", code: .invalidTreeSize),
        .init(text: "o\n+5\n\(root)\n", code: .invalidTreeSize),
        .init(text: "o\n5 \n\(root)\n", code: .invalidTreeSize),
        .init(text: "o\n0x5\n\(root)\n", code: .invalidTreeSize),
        .init(text: "o\n18446744073709551616\n\(root)\n", code: .invalidTreeSize),
        .init(text: "o\n\n\(root)\n", code: .invalidTreeSize),
        .init(text: "o\n5\n\(root.dropLast())\n", code: .invalidRootHash),
        .init(text: "o\n5\nAAAA\n", code: .invalidRootHash),
        .init(text: "o\n5\n\(Base64.encode([UInt8](repeating: 0xFB, count: 32)).replacingOccurrences("+", "-"))\n", code: .invalidRootHash),
    ]

    @Test(arguments: bad)
    func malformedCheckpointIsRefused(_ b: Bad) {
        #expect(throws: TransparencyLogError(b.code, "")) { try Checkpoint(parsing: Array(b.text.utf8)) }
    }

    @Test func parsesSizesAndExtensions() throws {
        for (size, text) in [(UInt64(0), "0"), (1, "1"), (.max, "18446744073709551615")] {
            let c = try Checkpoint(parsing: Array("o\n\(text)\n\(Self.root)\nx y\nz\n".utf8))
            #expect(c.size == size)
            #expect(c.extensions == ["x y", "z"])
            #expect(c.text == Array("o\n\(text)\n\(Self.root)\nx y\nz\n".utf8))
        }
    }

    @Test func verifierChecksOriginKeyAndWitnesses() throws {
        let a = TestKeys.witnessA.verifierKey
        let b = TestKeys.witnessB.verifierKey
        let log = TestKeys.log.verifierKey
        let one = try CheckpointVerifier(origin: "cloister/0a1b2c3d", logKey: log, witnesses: [a, b], requiredCosignatures: 1)
        let verified = try one.verify(TestKeys.note(cosignedBy: [TestKeys.witnessB], timestamp: 42))
        #expect(verified.checkpoint == TestKeys.checkpoint)
        #expect(verified.cosignatures.map(\.key) == [b])
        #expect(verified.cosignatures.first?.timestamp == 42)

        let two = try CheckpointVerifier(origin: "cloister/0a1b2c3d", logKey: log, witnesses: [a, b], requiredCosignatures: 2)
        #expect(throws: TransparencyLogError(.notEnoughCosignatures, "")) {
            try two.verify(TestKeys.note(cosignedBy: [TestKeys.witnessA]))
        }
        #expect(try two.verify(TestKeys.note(cosignedBy: [TestKeys.witnessA, TestKeys.witnessB])).cosignatures.count == 2)

        let other = try CheckpointVerifier(origin: "cloister/ffff", logKey: log)
        #expect(throws: TransparencyLogError(.originMismatch, "")) { try other.verify(TestKeys.note()) }

        // Cosigned by the witnesses but not signed by the log.
        let text = TestKeys.checkpoint.text
        let unsigned = try NoteSigner.sign(text: text, by: [TestKeys.witnessA, TestKeys.witnessB]).encoded
        #expect(throws: TransparencyLogError(.missingLogSignature, "")) { try two.verify(unsigned) }
        let stranger = try NoteSigner(name: "cloister/0a1b2c3d", key: TestKeys.key())
        #expect(throws: TransparencyLogError(.missingLogSignature, "")) {
            try one.verify(try NoteSigner.sign(text: text, by: [stranger]).encoded)
        }
        #expect(throws: TransparencyLogError(.notEnoughCosignatures, "")) {
            try CheckpointVerifier(origin: "o", logKey: log, witnesses: [a], requiredCosignatures: 2)
        }
    }
}
