#if canImport(Glibc)
import Glibc
#endif
import NitroAttestation
import SecureModule
import TransparencyLog

/// A witness's signing key: an Ed25519 key under a name, that cosigns checkpoints (C2SP `cosignature/v1`, type
/// 0x04). Its file is one line in the form of a C2SP/Go note signer key, `PRIVATE+KEY+NAME+KEYID+BASE64(0x04 ||
/// SEED)`, mode 0600; `verifierKey` is what a manifest's `log.witnesses` and clients pin.
public struct WitnessKey: Sendable {
    /// The largest key file read.
    static let maxFileBytes = 1024
    /// A name is 1 to this many bytes, so that its store key (`witness/NAME`) stays within the store's 256.
    public static let maxNameBytes = 200

    /// The name its cosignature lines carry.
    public var name: String { signer.verifierKey.name }
    /// The verifier key to pin (`NAME+KEYID+BASE64`, type 0x04).
    public var verifierKey: NoteVerifierKey { signer.verifierKey }
    /// The cosigner.
    public let signer: NoteSigner
    private let seed: [UInt8]

    /// The key named `name` with Ed25519 seed `seed`.
    public init(name: String, seed: [UInt8]) throws(WitnessError) {
        guard Self.isValidName(name) else {
            throw WitnessError(.keyInvalid, "a witness name is 1 to \(Self.maxNameBytes) printable ASCII characters, without space or +")
        }
        do { signer = try NoteSigner(name: name, type: .cosignatureV1, key: try Ed25519Key(seed: seed)) } catch {
            throw WitnessError(.keyInvalid, "not an Ed25519 seed: \(error)", underlying: error)
        }
        self.seed = seed
    }

    /// A new random key named `name`.
    public static func generate(name: String) throws(WitnessError) -> WitnessKey { try WitnessKey(name: name, seed: Random.bytes(32)) }

    /// Whether `name` can name a witness: printable ASCII without space or `+`, 1 to `maxNameBytes` bytes.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= maxNameBytes && name.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "+") }
    }

    /// The key file's line.
    var fileLine: String {
        "PRIVATE+KEY+\(name)+\(Self.hex(verifierKey.keyID))+\(Base64.encode([NoteSignatureType.cosignatureV1.rawValue] + seed))\n"
    }

    /// A key ID as 8 lower-case hex digits.
    static func hex(_ keyID: UInt32) -> String { Hex.encode((0..<4).map { UInt8(truncatingIfNeeded: keyID >> (24 - 8 * $0)) }).lowercased() }

    /// Parses a key file's contents.
    public init(file bytes: [UInt8]) throws(WitnessError) {
        guard bytes.count <= Self.maxFileBytes, bytes.last == 0x0A else { throw WitnessError(.keyInvalid, "not a witness key file (one line)") }
        // Base64 may hold `+`: the key is whatever follows the fourth.
        let parts = String(decoding: bytes.dropLast(), as: UTF8.self).split(separator: "+", maxSplits: 4, omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "PRIVATE", parts[1] == "KEY", parts[3].utf8.count == 8, parts[4].utf8.count == 44,
            let material = Base64.decode(parts[4]), Base64.encode(material) == parts[4], material.count == 33,
            material[0] == NoteSignatureType.cosignatureV1.rawValue
        else { throw WitnessError(.keyInvalid, "not PRIVATE+KEY+NAME+KEYID+BASE64 of a cosignature key (type 0x04)") }
        try self.init(name: String(parts[2]), seed: Array(material.dropFirst()))
        guard parts[3] == Self.hex(verifierKey.keyID) else {
            throw WitnessError(.keyInvalid, "the key ID written is not the one the name and key give")
        }
    }

    /// Writes a new key file at `path`, mode 0600; `keyExists` if something is there.
    public func create(path: String) throws(WitnessError) {
        do { try DurableFile.create(path, bytes: Array(fileLine.utf8), mode: 0o600) } catch {
            throw WitnessError(error.exists ? .keyExists : .keyInvalid, error.exists ? "\(path) exists; a key file is never overwritten" : "\(error)")
        }
    }

    /// Reads the key file at `path`, which other users must not be able to read.
    public static func load(path: String) throws(WitnessError) -> WitnessKey {
        var info = stat()
        guard stat(path, &info) == 0 else { throw WitnessError(.keyInvalid, "cannot read the witness key \(path)") }
        guard info.st_mode & 0o077 == 0 else {
            throw WitnessError(.keyInvalid, "\(path) may be read by other users (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 600 it")
        }
        let bytes: [UInt8]?
        do { bytes = try DurableFile.read(path, maxBytes: maxFileBytes) } catch { throw WitnessError(.keyInvalid, "\(error)") }
        guard let bytes else { throw WitnessError(.keyInvalid, "cannot read the witness key \(path)") }
        return try WitnessKey(file: bytes)
    }
}
