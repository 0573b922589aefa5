import CloisterTestSupport
import Foundation
import NIOSSL
import Testing

/// A throwaway CA and one server certificate it issued, made with the `openssl` command in a fresh temporary
/// directory for each test (nothing is committed). EC P-256 keys, valid for two days.
struct TestPKI {
    let directory: URL
    /// The CA certificate (PEM) a client should trust.
    let rootPath: String
    /// The server's certificate and key (PEM).
    let certificatePath: String
    let keyPath: String

    /// A CA named `caName` and a server certificate whose `subjectAltName` is `subjectAltName`
    /// (`DNS:localhost,IP:127.0.0.1`).
    static func make(caName: String = "Cloister Test Root", subjectAltName: String) async throws -> TestPKI {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-pki-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let p = { (name: String) in dir.appendingPathComponent(name).path }
        try await openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-keyout", p("ca.key"), "-out", p("ca.pem"), "-subj", "/CN=\(caName)",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
        try await openssl([
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", p("server.key"), "-out", p("server.csr"), "-subj", "/CN=localhost",
        ])
        try "subjectAltName=\(subjectAltName)\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"
            .write(toFile: p("ext.cnf"), atomically: true, encoding: .utf8)
        try await openssl([
            "x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"), "-CAcreateserial",
            "-days", "2", "-sha256", "-extfile", p("ext.cnf"), "-out", p("server.pem"),
        ])
        return TestPKI(
            directory: dir,
            rootPath: p("ca.pem"),
            certificatePath: p("server.pem"),
            keyPath: p("server.key")
        )
    }

    /// The CA as a trust root.
    func roots() throws -> [NIOSSLCertificate] { try NIOSSLCertificate.fromPEMFile(rootPath) }

    /// A TLS server configuration presenting the server certificate.
    func serverConfiguration() throws -> TLSConfiguration {
        TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificatePath).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: keyPath, format: .pem))
        )
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }

    static func openssl(_ arguments: [String]) async throws {
        let run = try await BuiltTool.run(
            executable: URL(fileURLWithPath: "/usr/bin/env"),
            ["openssl"] + arguments,
            environment: [:]
        )
        try #require(run.status == 0, "openssl \(arguments.first ?? "") failed: \(run.stderr)")
    }
}
