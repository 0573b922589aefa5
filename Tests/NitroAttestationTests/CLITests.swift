import CloisterTestSupport
import Foundation
import Testing

@testable import NitroAttestation

/// Runs the built `cloister` executable as a real process.
enum CLI {
    static var binary: URL { BuiltTool.directory.appendingPathComponent("cloister") }

    /// Runs `cloister args...`, optionally under an address-space limit (KiB) set with `ulimit -v`. Under the limit
    /// glibc keeps one malloc arena: each extra arena reserves 64 MiB of address space, and how many a process makes
    /// depends on thread contention, which would make the cap's outcome a matter of timing.
    static func run(_ args: [String], memoryLimitKB: Int? = nil, environment: [String: String] = [:]) throws -> BuiltTool.Output {
        guard let memoryLimitKB else { return try BuiltTool.runBlocking(executable: binary, args, environment: environment) }
        return try BuiltTool.runBlocking(
            executable: URL(fileURLWithPath: "/bin/sh"), ["-c", "ulimit -v \(memoryLimitKB) && exec \"$0\" \"$@\"", binary.path] + args,
            environment: environment.merging(["MALLOC_ARENA_MAX": "1"]) { given, _ in given })
    }

    static func temporaryFile(_ bytes: [UInt8], name: String = UUID().uuidString) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-test-\(name)")
        try Data(bytes).write(to: url)
        return url.path
    }
}

@Suite struct CLITests {
    @Test func verifiesEveryRealDocumentAtItsOwnTime() throws {
        let files = Corpus.real.map(\.path)
        guard !files.isEmpty else {
            print("SKIP: \(Corpus.skipMessage)")
            return
        }
        let r = try CLI.run(["attestation", "verify", "--at", "document"] + files)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.components(separatedBy: ": VERIFIED").count - 1 == files.count)
        let json = try CLI.run(["attestation", "verify", "--at", "document", "--json"] + files)
        #expect(json.status == 0)
        #expect(json.jsonLines.count == files.count)
        #expect(json.jsonLines.allSatisfy { $0["valid"] as? Bool == true && $0["awsRoot"] as? Bool == true })
    }

    @Test func refusesEveryInvalidDocumentNamingItsCode() throws {
        let files = Corpus.invalid
        guard !files.isEmpty else {
            print("SKIP: \(Corpus.skipMessage)")
            return
        }
        let r = try CLI.run(["attestation", "verify", "--at", "document", "--json"] + files.map(\.path))
        #expect(r.status == 1)
        let lines = r.jsonLines
        #expect(lines.count == files.count)
        for line in lines {
            let file = URL(fileURLWithPath: line["file"] as? String ?? "").lastPathComponent
            let expected = RealDocumentTests.invalidExpectations.first { file.hasPrefix($0.prefix) }?.code.rawValue
            #expect((line["error"] as? [String: Any])?["code"] as? String == expected, "\(file)")
            #expect(line["valid"] as? Bool == false)
        }
    }

    @Test func realDocumentsFailTodayAndExitNonZero() throws {
        guard let file = Corpus.real.first?.path else {
            print("SKIP: \(Corpus.skipMessage)")
            return
        }
        let r = try CLI.run(["attestation", "verify", file])
        #expect(r.status == 1)
        #expect(r.stdout.contains("FAILED certificateExpired"))
    }

    @Test func readsHexAndBase64Files() throws {
        guard let doc = Samples.any else {
            print("SKIP: \(Corpus.skipMessage)")
            return
        }
        let hex = try CLI.temporaryFile(Array((Hex.encode(doc) + "\n").utf8))
        let b64 = try CLI.temporaryFile(Array(Data(doc).base64EncodedString(options: .lineLength76Characters).utf8))
        let r = try CLI.run(["attestation", "verify", "--at", "document", hex, b64])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
    }

    @Test func manifestPinsAreCheckedInBothFormats() throws {
        guard let url = Corpus.real.first else {
            print("SKIP: \(Corpus.skipMessage)")
            return
        }
        let (_, document) = try AttestationVerifier.parse(try Corpus.bytes(url))
        func pins(_ pcrs: [Int: [UInt8]]) -> String {
            pcrs.map { "\"PCR\($0.key)\": \"\(Hex.encode($0.value))\"" }.joined(separator: ", ")
        }
        let own = document.pcrs.filter { $0.key <= 4 }
        let nitroCLI = try CLI.temporaryFile(Array(#"{"Measurements": {"HashAlgorithm": "Sha384 { ... }", \#(pins(own))}}"#.utf8))
        var wrong = own
        wrong[4] = [UInt8](repeating: 0x42, count: 48)
        let cloister = try CLI.temporaryFile(Array(#"{"attestation": {"pcrs": {\#(pins(wrong))}, "allowDebug": true}}"#.utf8))

        let ok = try CLI.run(["attestation", "verify", "--at", "document", "--allow-debug", "--manifest", nitroCLI, url.path])
        #expect(ok.status == 0, "\(ok.stdout)")
        #expect(ok.stdout.contains("match"))
        let bad = try CLI.run(["attestation", "verify", "--at", "document", "--json", "--manifest", cloister, url.path])
        #expect(bad.status == 1)
        #expect((bad.jsonLines.first?["error"] as? [String: Any])?["code"] as? String == "pcrMismatch")
        let text = try CLI.run(["attestation", "verify", "--at", "document", "--manifest", cloister, url.path])
        #expect(text.stdout.contains("MISMATCH"))
    }

    @Test func nonceAndAgeFlagsApply() throws {
        guard let url = Corpus.real.first else {
            print("SKIP: \(Corpus.skipMessage)")
            return
        }
        let nonce = try CLI.run(["attestation", "verify", "--at", "document", "--json", "--nonce", "00ff", url.path])
        #expect((nonce.jsonLines.first?["error"] as? [String: Any])?["code"] as? String == "nonceMismatch")
        let (_, d) = try AttestationVerifier.parse(try Corpus.bytes(url))
        let later = Timestamp.iso(Int64(d.timestamp) + 120_000)
        let old = try CLI.run(["attestation", "verify", "--at", later, "--max-age", "60", "--json", url.path])
        #expect((old.jsonLines.first?["error"] as? [String: Any])?["code"] as? String == "documentTooOld")
        let fresh = try CLI.run(["attestation", "verify", "--at", later, "--max-age", "600", url.path])
        #expect(fresh.status == 0, "\(fresh.stdout)")
    }

    @Test func inspectIsMarkedUnverified() throws {
        guard let url = Corpus.invalid.first(where: { $0.lastPathComponent.hasPrefix("marlin") }) else {
            print("SKIP: \(Corpus.skipMessage)")
            return
        }
        let r = try CLI.run(["attestation", "inspect", url.path])
        #expect(r.status == 0)
        #expect(r.stdout.contains("UNVERIFIED"))
        let json = try CLI.run(["attestation", "inspect", "--json", url.path])
        #expect(json.jsonLines.first?["verified"] as? Bool == false)
    }

    @Test(arguments: [
        ["attestation", "verify", "--at", "yesterday", "x"],
        ["attestation", "verify", "--nonce", "xyz", "x"],
        ["attestation", "verify", "--max-age", "0", "x"],
        ["attestation", "verify", "--manifest", "/nonexistent", "x"],
        ["attestation", "verify"],
    ])
    func usageErrorsExitWithUsageStatus(args: [String]) throws {
        let r = try CLI.run(args)
        #expect(r.status == 64, "\(args): \(r.stderr)")
    }

    @Test func helpExplainsTheChecks() throws {
        let r = try CLI.run(["attestation", "verify", "--help"])
        #expect(r.status == 0)
        for word in ["--at", "--root", "--manifest", "--nonce", "--max-age", "--allow-debug", "--json", "Exit status"] {
            #expect(r.stdout.contains(word), "help lacks \(word)")
        }
    }

    /// Hostile files are refused with the right code by a process capped at 256 MiB of address space (what they declare would take gigabytes; the runtime alone reserves tens of MiB).
    @Test(arguments: [
        ("84 9a 09 00 41 a3", "declaredLengthTooLarge"),
        ("d2 84 9b 00 00 00 00 ff ff ff ff 00", "declaredLengthTooLarge"),
        ("d2 84 5b ff ff ff ff ff ff ff ff 00", "truncated"),
        ("d2 84 40 a0 5a 7f ff ff ff", "truncated"),
        ("d2" + String(repeating: " 81", count: 5000) + " 00", "tooDeep"),
        ("84 40 bf" + String(repeating: " 01 01", count: 2) + " ff 40 40", "duplicateMapKey"),
    ])
    func hostileDocumentsAreRefusedInLittleMemory(hex: String, detail: String) throws {
        let bytes = try #require(Hex.decode(hex.replacingOccurrences(of: " ", with: "")))
        let file = try CLI.temporaryFile(bytes)
        let r = try CLI.run(["attestation", "verify", "--json", file], memoryLimitKB: 256 * 1024)
        #expect(r.status == 1, "\(r.stderr)")
        let error = r.jsonLines.first?["error"] as? [String: Any]
        #expect(["malformedCBOR", "invalidPayload"].contains(error?["code"] as? String ?? ""), "\(r.stdout)")
        let message = error?["message"] as? String ?? ""
        #expect(message.contains(detail), "\(r.stdout)")
    }

    @Test func sixteenMebibyteFileIsRefusedInLittleMemory() throws {
        var bytes = [UInt8](repeating: 0x41, count: 16 << 20)
        bytes[0] = 0xD2
        let file = try CLI.temporaryFile(bytes)
        let r = try CLI.run(["attestation", "verify", "--json", file], memoryLimitKB: 256 * 1024)
        #expect(r.status == 1)
        #expect((r.jsonLines.first?["error"] as? [String: Any])?["code"] as? String == "unreadableInput")
    }
}

@Suite struct HostileInputTests {
    /// The library's own bound: a 16 MiB input is refused before any decoding.
    @Test func oversizedDocumentIsRefusedBeforeDecoding() {
        var bytes = [UInt8](repeating: 0x00, count: 16 << 20)
        bytes[0] = 0xD2
        #expect(throws: AttestationError(.malformedCBOR, "")) { try AttestationVerifier.parse(bytes) }
    }

    @Test func libcborAllocationCasesAreRefusedByTheBoundedBuilder() {
        for hex in ["9a090041a3", "849a090041a3", "d2849b00000000ffffffff00", "d284bb7fffffffffffffff0000"] {
            do {
                _ = try AttestationVerifier.parse(Hex.decode(hex)!)
                Issue.record("accepted \(hex)")
            } catch {
                #expect(error.code == .malformedCBOR || error.code == .invalidCOSEStructure, "\(hex): \(error)")
            }
        }
    }
}

extension BuiltTool.Output {
    /// Standard output's lines that are JSON objects.
    var jsonLines: [[String: Any]] {
        stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }
}
