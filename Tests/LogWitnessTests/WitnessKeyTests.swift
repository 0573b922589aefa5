import Foundation
import NitroAttestation
import Testing
import TransparencyLog

@testable import LogWitness

/// The witness key and its file: C2SP/Go note signer key form, type 0x04, 0600, never overwritten.
struct WitnessKeyTests {
    static func temporaryPath() -> String { FileManager.default.temporaryDirectory.appendingPathComponent("witness-\(UUID().uuidString).key").path }

    @Test func aKeyRoundTripsThroughItsFileAndCosigns() throws {
        let key = try WitnessKey.generate(name: "witness.example.org/w1")
        #expect(key.verifierKey.type == .cosignatureV1)
        let parsed = try WitnessKey(file: Array(key.fileLine.utf8))
        #expect(parsed.verifierKey == key.verifierKey)
        #expect(try NoteVerifierKey(parsing: key.verifierKey.encoded) == key.verifierKey, "the printed verifier key parses back")
        #expect(key.fileLine.hasPrefix("PRIVATE+KEY+witness.example.org/w1+"))
    }

    @Test func theFileIsMadeOnce0600AndRefusedIfOthersMayReadIt() throws {
        let path = Self.temporaryPath()
        defer { unlink(path) }
        let key = try WitnessKey.generate(name: "w1")
        try key.create(path: path)
        let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
        #expect(mode == 0o600)
        #expect(try WitnessKey.load(path: path).verifierKey == key.verifierKey)
        #expect(throws: WitnessError(.keyExists, "")) { try WitnessKey.generate(name: "w2").create(path: path) }
        #expect(try WitnessKey.load(path: path).verifierKey == key.verifierKey, "the first key is still there")
        chmod(path, 0o644)
        #expect(throws: WitnessError(.keyInvalid, "")) { try WitnessKey.load(path: path) }
        #expect(throws: WitnessError(.keyInvalid, "")) { try WitnessKey.load(path: path + ".absent") }
    }

    static let line = try! WitnessKey.generate(name: "w1").fileLine

    /// Key files that must be refused, each with what is wrong with it.
    static let malformed: [(String, String)] = [
        ("no final newline", String(line.dropLast())),
        ("a public key line", String(line.dropFirst("PRIVATE+KEY+".count))),
        ("another key ID", edit(line, part: 3) { $0 == "00000000" ? "00000001" : "00000000" }),
        ("an Ed25519 note key (type 0x01)", edit(line, part: 4) { Base64.encode([0x01] + Base64.decode($0)!.dropFirst()) }),
        ("upper-case key ID", edit(line, part: 3) { $0.uppercased() == $0 ? "ABCDEF01" : $0.uppercased() }),
        ("padding after 33 bytes of base64", String(line.dropLast()) + "==\n"),
        ("a name with a space", line.replacingOccurrences(of: "+w1+", with: "+w 1+")),
        ("two lines", line + line),
        ("empty", ""),
    ]

    @Test(arguments: malformed)
    func malformedFilesAreRefused(_ name: String, file: String) throws {
        #expect(try WitnessKey(file: Array(Self.line.utf8)).name == "w1")
        #expect(throws: WitnessError(.keyInvalid, ""), "\(name)") { try WitnessKey(file: Array(file.utf8)) }
    }

    @Test func anOversizedFileIsRefused() {
        #expect(throws: WitnessError(.keyInvalid, "")) { try WitnessKey(file: Array(repeating: 0x41, count: 2000) + [0x0A]) }
    }

    @Test(arguments: ["", "a b", "a+b", "é", String(repeating: "n", count: 201), "tab\t"])
    func badNamesAreRefused(_ name: String) {
        #expect(throws: WitnessError(.keyInvalid, "")) { try WitnessKey.generate(name: name) }
    }

    /// The line with its `+`-separated part `part` edited.
    static func edit(_ line: String, part: Int, _ change: (String) -> String) -> String {
        var parts = line.dropLast().split(separator: "+", maxSplits: 4).map(String.init)
        parts[part] = change(parts[part])
        return parts.joined(separator: "+") + "\n"
    }
}
