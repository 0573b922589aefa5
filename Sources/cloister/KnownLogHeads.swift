import ArgumentParser
import CloisterClient
import Foundation
import NitroAttestation

#if canImport(Glibc)
import Glibc
#endif

/// The newest log head this user has verified per deployment: `log-heads/HEX64` beside `known-deployments`, each the
/// signed note as received. A later session starts from it, so that a host that shows an older log (an enclave
/// restarted on an old copy of its store) or another branch of it is caught on the first answer (`logForked`).
enum KnownLogHeads {
    /// Largest file read.
    static let maxFileSize = 64 * 1024

    static func path(for deployment: [UInt8], environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        (KnownDeployments.defaultPath(environment: environment) as NSString).deletingLastPathComponent + "/log-heads/" + Hex.encode(deployment).lowercased()
    }

    /// The remembered head's note, nil if none; a file too large or unreadable is an error naming it.
    static func load(for deployment: [UInt8]) throws -> [UInt8]? {
        let path = path(for: deployment)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path), data.count <= maxFileSize else {
            throw ValidationError("\(path): cannot be read, or larger than \(maxFileSize) bytes")
        }
        return [UInt8](data)
    }

    /// Remembers `head` if it is larger than the one remembered (written to a temporary file, then renamed).
    static func save(_ head: LogHead, for deployment: [UInt8]) throws {
        let path = path(for: deployment)
        if let old = try? load(for: deployment), let seen = try? LogHead.verify(old, deployment: deployment), seen.checkpoint.size >= head.checkpoint.size {
            return
        }
        let dir = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(head.note)) else {
            throw ValidationError("\(temporary): cannot be written")
        }
        guard rename(temporary, path) == 0 else { throw ValidationError("\(path): cannot be written (errno \(errno))") }
    }
}
