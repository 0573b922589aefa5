#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Files written whole or not at all: what a crash leaves is the old file or the new one, never a part.
enum DurableFile {
    /// Replaces the file at `path` with `bytes`: a temporary file beside it, synced, renamed over it, and the
    /// directory synced so that the rename itself survives a crash.
    static func replace(_ path: String, with bytes: [UInt8], mode: mode_t = 0o644) throws(FileFailure) {
        let temporary = path + ".tmp-\(getpid())"
        try create(temporary, bytes: bytes, mode: mode)
        guard rename(temporary, path) == 0 else {
            let failure = FileFailure("cannot rename \(temporary) to \(path): errno \(errno)")
            unlink(temporary)
            throw failure
        }
        syncDirectory(of: path)
    }

    /// Creates `path` with `bytes` and `mode`, never over an existing file, and syncs it. `EEXIST` is reported in
    /// `exists`.
    static func create(_ path: String, bytes: [UInt8], mode: mode_t) throws(FileFailure) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileFailure("cannot create \(path): errno \(errno)", exists: errno == EEXIST) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            guard n > 0 else { break }
            done += n
        }
        let synced = fsync(fd) == 0
        close(fd)
        guard done == bytes.count, synced else {
            unlink(path)
            throw FileFailure("cannot write \(path)")
        }
        syncDirectory(of: path)
    }

    /// The file at `path`, if it exists and holds at most `maxBytes`.
    static func read(_ path: String, maxBytes: Int) throws(FileFailure) -> [UInt8]? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw FileFailure("cannot read \(path)") }
        defer { try? handle.close() }
        guard let data = try? handle.read(upToCount: maxBytes + 1) ?? Data() else { throw FileFailure("cannot read \(path)") }
        guard data.count <= maxBytes else { throw FileFailure("\(path) is larger than \(maxBytes) bytes") }
        return Array(data)
    }

    private static func syncDirectory(of path: String) {
        let directory = (path as NSString).deletingLastPathComponent
        let fd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    /// Why a file could not be read or written.
    struct FileFailure: Error, CustomStringConvertible {
        let description: String
        /// The file to create was already there.
        let exists: Bool
        init(_ description: String, exists: Bool = false) {
            self.description = description
            self.exists = exists
        }
    }
}
