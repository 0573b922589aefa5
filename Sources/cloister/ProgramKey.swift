import ArgumentParser
import Foundation
import NitroAttestation
import SecureModule

#if canImport(Glibc)
import Glibc
#endif

/// The program key that signs this user's actions: a PKCS#8 PEM file, mode 0600, made on first use (Ed25519). Its
/// public half is a credential of the tenants it was added to; the private half never leaves this machine.
struct ProgramKeyOption: ParsableArguments {
    @Option(
        name: .customLong("credential"),
        help: ArgumentHelp(
            "The program key that signs actions (PEM; default: $CLOISTER_CREDENTIAL, else program-key.pem in $CLOISTER_CONFIG_DIR, $XDG_CONFIG_HOME/cloister or ~/.config/cloister). Made (Ed25519, mode 0600) on first use.",
            valueName: "FILE"))
    var file: String?

    var path: String { file ?? ProcessInfo.processInfo.environment["CLOISTER_CREDENTIAL"] ?? ProgramKey.defaultPath() }

    /// The key, made first if the file does not exist; a line on standard error says when it is made.
    func load() throws -> CredentialKey { try ProgramKey.loadOrCreate(path: path) }
}

enum ProgramKey {
    static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        (KnownDeployments.defaultPath(environment: environment) as NSString).deletingLastPathComponent + "/program-key.pem"
    }

    /// Reads the key at `path`, which must exist.
    static func load(path: String) throws -> CredentialKey {
        guard FileManager.default.fileExists(atPath: path) else { throw ValidationError("no program key at \(path)") }
        return try loadOrCreate(path: path)
    }

    /// Reads the key at `path`, or makes one there (never over an existing file) when there is none.
    static func loadOrCreate(path: String) throws -> CredentialKey {
        if FileManager.default.fileExists(atPath: path) {
            guard let pem = FileManager.default.contents(atPath: path), pem.count <= 16 * 1024 else { throw ValidationError("cannot read the program key \(path)") }
            do { return try CredentialKey.fromPEM(Array(pem)) } catch { throw ValidationError("\(path): \(error)") }
        }
        let key = try CredentialKey.generate(.ed25519)
        let pem = try key.privateKeyPEM()
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory.isEmpty ? "." : directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // Created 0600 from the start, and never over a file another process made meanwhile.
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { return try loadOrCreate(path: path) }
            throw ValidationError("cannot create the program key \(path) (errno \(errno))")
        }
        let written = pem.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == pem.count, synced else {
            unlink(path)
            throw ValidationError("cannot write the program key \(path)")
        }
        FileHandle.standardError.write(Data("cloister: made a new program key (ed25519, id \(Hex.encode(SHA.sha256(key.spki)))) in \(path)\n".utf8))
        return key
    }
}
