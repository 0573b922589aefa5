import Foundation
import NitroAttestation

#if canImport(Glibc)
import Glibc
#endif

/// The deployments this user has seen, one line per service, in the manner of SSH's `known_hosts`: `URL HEX64`,
/// where URL is the service's base URL as `parseURL` normalises it and HEX64 the deployment commitment (32 bytes)
/// its enclave presented. Blank lines and lines that begin with `#` are kept as they are; any other line that is
/// not an entry, or a URL listed twice, is an error naming the file and the line, never skipped.
struct KnownDeployments: Sendable, Equatable {
    /// Why the file could not be read or written.
    struct Error: Swift.Error, Sendable, Equatable, CustomStringConvertible {
        enum Code: String, Sendable {
            /// A line is not `URL HEX64`, or a URL is listed twice.
            case malformed
            /// The file exists but could not be read.
            case unreadable
            /// The file or its directory could not be written.
            case unwritable
        }

        let code: Code
        let message: String

        init(_ code: Code, _ message: String) {
            self.code = code
            self.message = message
        }

        var description: String { message }
        static func == (a: Error, b: Error) -> Bool { a.code == b.code }
    }

    private enum Line: Sendable, Equatable {
        case kept(String)
        case entry(url: String, deployment: [UInt8])
    }

    /// Largest file read.
    static let maxFileSize = 1 << 20

    let path: String
    private var lines: [Line] = []

    /// `$CLOISTER_CONFIG_DIR/known-deployments`, else `$XDG_CONFIG_HOME/cloister/known-deployments`, else
    /// `~/.config/cloister/known-deployments`.
    static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let dir = environment["CLOISTER_CONFIG_DIR"], !dir.isEmpty { return dir + "/known-deployments" }
        if let xdg = environment["XDG_CONFIG_HOME"], !xdg.isEmpty { return xdg + "/cloister/known-deployments" }
        return (environment["HOME"] ?? ".") + "/.config/cloister/known-deployments"
    }

    /// Where tenant roots are remembered, in the same format (the URL being the service's with
    /// `deployments/HEX/tenants/NAME/`):
    /// `known-tenants` beside `known-deployments`.
    static func tenantsPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        (defaultPath(environment: environment) as NSString).deletingLastPathComponent + "/known-tenants"
    }

    /// Reads the file at `path`; a file that does not exist is an empty list.
    static func load(path: String = defaultPath()) throws(Error) -> KnownDeployments {
        guard FileManager.default.fileExists(atPath: path) else { return KnownDeployments(path: path) }
        guard let data = FileManager.default.contents(atPath: path) else { throw Error(.unreadable, "\(path): cannot be read") }
        guard data.count <= maxFileSize else { throw Error(.unreadable, "\(path): larger than \(maxFileSize) bytes") }
        return try KnownDeployments(path: path, text: String(decoding: data, as: UTF8.self))
    }

    init(path: String) { self.path = path }

    /// Parses `text` as the content of the file at `path` (named in errors).
    init(path: String, text: String) throws(Error) {
        self.path = path
        var seen: [String: Int] = [:]
        var body = text.split(separator: "\n", omittingEmptySubsequences: false)
        if body.last == "" { body.removeLast() }
        for (i, line) in body.enumerated() {
            let number = i + 1
            if line.isEmpty || line.hasPrefix("#") {
                lines.append(.kept(String(line)))
                continue
            }
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 2 else { throw Error(.malformed, "\(path):\(number): expected \"URL HEX64\" (one space between), found \"\(line.prefix(80))\"") }
            let url = String(fields[0])
            guard (try? parseURL(url))?.absoluteString == url else {
                throw Error(.malformed, "\(path):\(number): \"\(url.prefix(80))\" is not a service URL as cloister writes it (http(s)://HOST[:PORT]/...)")
            }
            guard fields[1].utf8.count == 64, let deployment = Hex.decode(String(fields[1])) else {
                throw Error(.malformed, "\(path):\(number): the deployment of \(url) must be 64 hex digits")
            }
            if let first = seen[url] { throw Error(.malformed, "\(path):\(number): \(url) is listed again (first at line \(first))") }
            seen[url] = number
            lines.append(.entry(url: url, deployment: deployment))
        }
    }

    /// The commitment remembered for the service at `url` (a base URL from `parseURL`).
    subscript(url: URL) -> [UInt8]? {
        for case .entry(let u, let deployment) in lines where u == url.absoluteString { return deployment }
        return nil
    }

    /// Remembers `deployment` for `url`, in place of the one remembered; nil forgets it.
    mutating func remember(_ deployment: [UInt8]?, for url: URL) {
        let key = url.absoluteString
        let at = lines.firstIndex { if case .entry(let u, _) = $0 { return u == key } else { return false } }
        switch (at, deployment) {
        case (let i?, let d?): lines[i] = .entry(url: key, deployment: d)
        case (let i?, nil): lines.remove(at: i)
        case (nil, let d?): lines.append(.entry(url: key, deployment: d))
        case (nil, nil): break
        }
    }

    /// The file's content.
    var text: String {
        lines.map { line in
            switch line {
            case .kept(let text): return text + "\n"
            case .entry(let url, let deployment): return url + " " + Hex.encode(deployment) + "\n"
            }
        }.joined()
    }

    /// Writes the file atomically (a temporary file in the same directory, synced, then renamed over it), mode
    /// 0600; the directory is created (0700) if missing.
    func save() throws(Error) {
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(
                atPath: directory.isEmpty ? "." : directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw Error(.unwritable, "\(directory): cannot create the directory (\(error.localizedDescription))")
        }
        let temporary = (directory.isEmpty ? "." : directory) + "/.known-deployments." + Hex.encode(Random.bytes(8)) + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Error(.unwritable, "\(temporary): cannot create (errno \(errno))") }
        let bytes = Array(text.utf8)
        var written = 0
        var failed = fchmod(fd, 0o600) != 0
        while !failed && written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { failed = true } else { written += n }
        }
        failed = failed || fsync(fd) != 0
        failed = close(fd) != 0 || failed
        guard !failed, rename(temporary, path) == 0 else {
            let reason = errno
            unlink(temporary)
            throw Error(.unwritable, "\(path): cannot write (errno \(reason))")
        }
    }
}
