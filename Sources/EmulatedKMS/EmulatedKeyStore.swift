#if canImport(Glibc)
import Glibc
#endif
import CBOR
import Foundation
import Synchronization
import NitroAttestation
import SecureModule

/// The emulated KMS's keys: one AES-256 key per key id, in one file (mode 0600) on this machine, made the first
/// time a key id is used for `Encrypt`. Each key has a random generation tag that its ciphertexts carry, so a key
/// that was deleted and then made again under the same id does not open the old ciphertexts (as with a deleted KMS
/// key). In emulation this machine holds every key.
public final class EmulatedKeyStore: Sendable {
    struct Key: Sendable, Hashable {
        var material: [UInt8]
        var generation: [UInt8]
    }

    public let path: String
    private let keys: Mutex<[String: Key]>

    /// Reads the keys in `path`, or starts with none.
    public init(path: String) throws {
        self.path = path
        var loaded: [String: Key] = [:]
        if let data = FileManager.default.contents(atPath: path) {
            guard let item = try? CBORDecoder(limits: .init(maxInputSize: 1 << 20, maxDepth: 3, maxItems: 1 << 16)).decode(Array(data)),
                let entries = item.array
            else { throw EmulatedKMSError(.storeUnreadable, "\(path) is not an emulated KMS key file") }
            for entry in entries {
                guard let f = entry.array, f.count == 3, let id = f[0].text, let m = f[1].bytes, m.count == 32, let g = f[2].bytes, g.count == 16 else {
                    throw EmulatedKMSError(.storeUnreadable, "\(path) holds a malformed key")
                }
                loaded[id] = Key(material: m, generation: g)
            }
        }
        keys = Mutex(loaded)
    }

    /// The key for `id`, made (and written down) if `create` and it does not exist.
    func key(_ id: String, create: Bool) throws(EmulatedKMSError) -> Key? {
        try keys.withLock { keys throws(EmulatedKMSError) -> Key? in
            if let k = keys[id] { return k }
            guard create else { return nil }
            let k = Key(material: Random.bytes(32), generation: Random.bytes(16))
            var next = keys
            next[id] = k
            try Self.write(next, to: path)
            keys = next
            return k
        }
    }

    /// Forgets `id` for good, as a completed `ScheduleKeyDeletion` does.
    public func delete(_ id: String) throws {
        try keys.withLock { keys throws(EmulatedKMSError) in
            var next = keys
            next[id] = nil
            try Self.write(next, to: path)
            keys = next
        }
    }

    /// The key id whose generation is `generation`, if it still exists.
    func key(generation: [UInt8]) -> (String, Key)? {
        keys.withLock { keys in keys.first { $0.value.generation == generation }.map { ($0.key, $0.value) } }
    }

    /// Writes the whole file anew (temporary file, fsync, rename), mode 0600.
    static func write(_ keys: [String: Key], to path: String) throws(EmulatedKMSError) {
        let item = CBOR.array(keys.sorted { $0.key < $1.key }.map { .array([.text($0.key), .bytes($0.value.material), .bytes($0.value.generation)]) })
        let bytes = CBOREncoder.encode(item)
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw EmulatedKMSError(.storeUnreadable, "cannot write \(temporary): errno \(errno)") }
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced, rename(temporary, path) == 0 else {
            throw EmulatedKMSError(.storeUnreadable, "cannot write \(path)")
        }
    }
}
