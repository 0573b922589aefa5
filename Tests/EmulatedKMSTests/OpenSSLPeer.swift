import CloisterTestSupport
import Foundation
import Testing

/// The `openssl` command-line tool, a CMS implementation nobody here wrote, working in a fresh temporary directory
/// of its own: it makes the recipient keys and reads the envelopes the builder makes.
final class OpenSSLPeer: Sendable {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-kms-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// Makes private key `name`.key with `openssl genpkey` and `options`; its public key as DER SubjectPublicKeyInfo.
    func generateKey(_ name: String, _ options: [String]) async throws -> [UInt8] {
        try await run(["genpkey"] + options + ["-out", path("\(name).key")])
        try await run(["pkey", "-in", path("\(name).key"), "-pubout", "-outform", "DER", "-out", path("\(name).spki")])
        return try read("\(name).spki")
    }

    /// An RSA key of `bits` made as `name`; its SubjectPublicKeyInfo.
    func generateRSA(_ name: String, bits: Int = 2048) async throws -> [UInt8] {
        try await generateKey(name, ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:\(bits)"])
    }

    /// Runs `openssl` with `arguments` and answers what it printed, or fails the test with what it said.
    @discardableResult
    func run(_ arguments: [String]) async throws -> String {
        let output = try await BuiltTool.run(
            executable: URL(fileURLWithPath: "/usr/bin/env"),
            ["openssl"] + arguments,
            environment: [:]
        )
        try #require(output.status == 0, "openssl \(arguments.joined(separator: " ")) failed: \(output.stderr)")
        return output.stdout
    }

    /// Writes `bytes` to file `name`; its path.
    func write(_ bytes: [UInt8], to name: String) throws -> String {
        try Data(bytes).write(to: directory.appendingPathComponent(name))
        return path(name)
    }

    func read(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: directory.appendingPathComponent(name))) }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
}
