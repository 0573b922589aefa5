import Foundation
import Testing
import VsockBridge

/// Recipient keys, certificates and CMS envelopes made by the `openssl` command-line tool, a CMS implementation
/// nobody here wrote. Each instance owns a fresh temporary directory with two RSA-2048 keys and self-signed
/// certificates for them: "recipient" (the key under test) and "other".
final class OpenSSLEnvelopes: Sendable {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-cms-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for name in ["recipient", "other"] {
            _ = try Self.openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path("\(name).key")])
            _ = try Self.openssl([
                "req", "-x509", "-new", "-key", path("\(name).key"), "-subj", "/CN=\(name)", "-days", "1",
                "-out", path("\(name).pem"),
            ])
        }
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// The PEM private key of `name`.
    func privateKey(_ name: String = "recipient") throws -> [UInt8] { Array(try Data(contentsOf: url(name + ".key"))) }

    /// The key options of KMS's envelopes: RSAES-OAEP with SHA-256 and MGF1-SHA-256.
    static let oaepSHA256 = ["rsa_padding_mode:oaep", "rsa_oaep_md:sha256", "rsa_mgf1_md:sha256"]

    /// `openssl cms -encrypt -binary -outform DER` of `plaintext` to the certificates of `recipients`, each with
    /// `keyOptions`, under `cipher`; by subject key identifier (`-keyid`) unless `keyID` is false, and with
    /// indefinite lengths (`-stream`) when `stream` is true.
    func envelope(
        _ plaintext: [UInt8], to recipients: [String] = ["recipient"], keyOptions: [String] = oaepSHA256,
        cipher: String = "-aes-256-cbc", keyID: Bool = true, stream: Bool = false
    ) throws -> [UInt8] {
        let input = url("plaintext-\(UUID().uuidString)")
        try Data(plaintext).write(to: input)
        defer { try? FileManager.default.removeItem(at: input) }
        let output = url("envelope-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: output) }
        var arguments = ["cms", "-encrypt", "-binary", "-outform", "DER", "-in", input.path, "-out", output.path, cipher]
        if keyID { arguments.append("-keyid") }
        if stream { arguments.append("-stream") }
        // Each -keyopt applies to the -recip before it.
        for name in recipients {
            arguments += ["-recip", path("\(name).pem")] + keyOptions.flatMap { ["-keyopt", $0] }
        }
        _ = try Self.openssl(arguments)
        return Array(try Data(contentsOf: output))
    }

    private func url(_ name: String) -> URL { directory.appendingPathComponent(name) }
    private func path(_ name: String) -> String { url(name).path }

    /// Runs `openssl` with `arguments`; its standard output, or a failure that says what it printed.
    static func openssl(_ arguments: [String]) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        let (out, err) = (Pipe(), Pipe())
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = PipeReader.readAll(out.fileHandleForReading)
        let stderr = String(decoding: PipeReader.readAll(err.fileHandleForReading), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "openssl \(arguments.joined(separator: " ")) failed: \(stderr)")
        return Array(stdout)
    }
}
