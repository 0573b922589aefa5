import Foundation
import NitroAttestation

/// The emulated root CA of a developer box or CI machine: created once per machine in a state directory
/// (`root.pem`, and `root-key.pem` with mode 0600), and trusted only by those who pass it explicitly.
public final class EmulatedRoot: Sendable {
    /// The root certificate.
    public let certificate: X509Certificate
    let key: P384Key

    /// The state directory: `$CLOISTER_EMULATOR_DIR`, else `$XDG_STATE_HOME/cloister/emulator`,
    /// else `~/.local/state/cloister/emulator`.
    public static var defaultDirectory: String {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["CLOISTER_EMULATOR_DIR"], !dir.isEmpty { return dir }
        if let state = env["XDG_STATE_HOME"], !state.isEmpty { return state + "/cloister/emulator" }
        // $HOME first, as the README's paths and the shell read it.
        let home = env["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.local/state/cloister/emulator"
    }

    /// The certificate's path in a state directory.
    public static func certificatePath(_ directory: String) -> String { directory + "/root.pem" }
    static func keyPath(_ directory: String) -> String { directory + "/root-key.pem" }

    init(certificate: X509Certificate, key: P384Key) {
        self.certificate = certificate
        self.key = key
    }

    /// Loads the root from `directory`, creating it first if there is none. `created` says which happened.
    /// Creation holds an exclusive lock on `directory/.lock`, so concurrent callers (threads or processes)
    /// agree on one root.
    public static func loadOrCreate(directory: String = defaultDirectory, now: Int64 = Clock.milliseconds()) throws(NSMError) -> (root: EmulatedRoot, created: Bool) {
        if FileManager.default.fileExists(atPath: certificatePath(directory)) {
            return (try load(directory: directory), false)
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw NSMError(.internalError, "cannot create \(directory): \(error)")
        }
        let lock = open(directory + "/.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard lock >= 0 else { throw NSMError(.internalError, "cannot open \(directory)/.lock: \(String(cString: strerror(errno)))") }
        defer { close(lock) }
        while flock(lock, LOCK_EX) != 0 {
            guard errno == EINTR else { throw NSMError(.internalError, "cannot lock \(directory)/.lock: \(String(cString: strerror(errno)))") }
        }
        if FileManager.default.fileExists(atPath: certificatePath(directory)) {
            return (try load(directory: directory), false)
        }
        return (try create(directory: directory, now: now), true)
    }

    /// Loads an existing root; fails if it is missing, unreadable, or its key does not match.
    public static func load(directory: String = defaultDirectory) throws(NSMError) -> EmulatedRoot {
        guard let pem = FileManager.default.contents(atPath: certificatePath(directory)),
            let keyPEM = FileManager.default.contents(atPath: keyPath(directory))
        else { throw NSMError(.internalError, "no emulated root in \(directory) (run `cloister nsm emulator init`)") }
        let certificate: X509Certificate
        do {
            guard let first = try X509Certificate.fromPEM(String(decoding: pem, as: UTF8.self)).first else { throw NSMError(.internalError) }
            certificate = first
        } catch {
            throw NSMError(.internalError, "\(certificatePath(directory)) is not a certificate")
        }
        let key = try P384Key.fromPEM(Array(keyPEM))
        guard key.publicKeyDER == certificate.publicKeyDER else {
            throw NSMError(.internalError, "\(keyPath(directory)) does not belong to \(certificatePath(directory))")
        }
        return EmulatedRoot(certificate: certificate, key: key)
    }

    /// The root's ES384 signature (raw r ‖ s) over `statement`: how the emulated services of this machine (the
    /// sealing service's key) are certified, as AWS's certificates vouch for KMS.
    public func certify(_ statement: [UInt8]) throws(NSMError) -> [UInt8] { try key.signES384(statement) }

    /// A TLS server certificate for `key`, valid for `names` (host names or IP addresses) for `days` days: what the
    /// emulated KMS presents, so that a client trusting only this root reaches only a server this machine runs.
    public func issueTLSServerCertificate(names: [String], key serverKey: P384Key, days: Int = 30, now: Int64 = Clock.milliseconds()) throws(NSMError) -> X509Certificate {
        guard let first = names.first else { throw NSMError(.internalError, "a TLS certificate needs a name") }
        let seconds = now / 1000
        return try CertificateIssuer.issue(
            subject: [("O", "Cloister"), ("OU", "Emulation"), ("CN", String(first.prefix(64)))], serial: Random.bytes(16),
            notBefore: seconds - 3600, notAfter: seconds + Int64(days) * 86400, role: .tlsServer(names: names), publicKey: serverKey,
            issuer: (certificate, key))
    }

    /// Creates a new root in `directory`, which must not already hold one (nor half of one).
    ///
    /// The key is written first, mode 0600, then the certificate; each goes in with link(2), which never
    /// replaces an existing file, so an existing root is never overwritten and two processes cannot both win.
    /// A crash between the two leaves a key without a certificate, which `create` then refuses by name.
    public static func create(directory: String = defaultDirectory, now: Int64 = Clock.milliseconds()) throws(NSMError) -> EmulatedRoot {
        if FileManager.default.fileExists(atPath: keyPath(directory)) {
            throw NSMError(.internalError, "\(keyPath(directory)) exists without a usable root.pem beside it; remove it to create a new root")
        }
        let key = try P384Key.generate()
        let seconds = now / 1000
        let certificate = try CertificateIssuer.issue(
            subject: [("C", "US"), ("O", "Cloister"), ("OU", "Emulation"), ("CN", "emulated.nitro-enclaves.cloister")],
            serial: Random.bytes(16), notBefore: seconds - 3600, notAfter: seconds + 30 * 365 * 86400, role: .root,
            publicKey: key, issuer: nil)
        let keyPEM = try key.privateKeyPEM()
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw NSMError(.internalError, "cannot create \(directory): \(error)")
        }
        try install(Data(keyPEM), at: keyPath(directory), mode: 0o600)
        try install(Data(certificate.pem.utf8), at: certificatePath(directory), mode: 0o644)
        return EmulatedRoot(certificate: certificate, key: key)
    }

    /// Writes `data` to a temporary file with `mode`, then links it to `path`, failing if `path` exists.
    private static func install(_ data: Data, at path: String, mode: Int) throws(NSMError) {
        let temporary = path + ".tmp.\(getpid()).\(Hex.encode(Random.bytes(4)))"
        defer { unlink(temporary) }
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: mode]) else {
            throw NSMError(.internalError, "cannot write \(temporary)")
        }
        guard link(temporary, path) == 0 else {
            throw NSMError(.internalError, "cannot install \(path): \(String(cString: strerror(errno)))")
        }
    }
}

/// Wall-clock milliseconds, read where a value enters the system.
public enum Clock {
    public static func milliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}
