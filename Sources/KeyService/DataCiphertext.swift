import NitroAttestation
import SecureModule

/// A data key's ciphertext as text: the one writer (`text`) and the one parser of what `key.encrypt` answers and
/// `key.decrypt` and `key.rewrap` take. Two schemes share the `cloister:` prefix:
///
/// - `cloister:xaes:vN:BASE64`: XAES-256-GCM under version N; the bytes are the 24-byte nonce, the ciphertext and
///   the 16-byte tag. Everything `key.encrypt` writes.
/// - `cloister:vN:BASE64`: AES-256-GCM under version N; the bytes are a 12-byte nonce, the ciphertext and the tag.
///   The earlier format: still read, never written.
///
/// The parser only reads the string; whether the bytes open is the key's business.
public struct DataCiphertext: Sendable, Hashable {
    /// How the bytes were sealed.
    public enum Scheme: Sendable, Hashable {
        /// XAES-256-GCM (c2sp.org/XAES-256-GCM), 192-bit random nonces.
        case xaes256GCM
        /// AES-256-GCM with 96-bit random nonces: the earlier format, decrypted only.
        case aes256GCM

        /// The nonce length the scheme's bytes start with.
        public var nonceSize: Int { self == .xaes256GCM ? XAES256GCM.nonceSize : AESGCM.nonceSize }
    }

    /// The longest text read: a request body's bound (256 KiB, as `Input` takes it), so no request carries a longer
    /// ciphertext and none is ever decoded.
    public static let maxTextBytes = 256 * 1024

    public let scheme: Scheme
    /// The key version that sealed it.
    public let version: UInt64
    public let nonce: [UInt8]
    /// The ciphertext and its tag.
    public let sealed: [UInt8]

    /// A ciphertext of `scheme` under key version `version` (at least 1), `nonce` of the scheme's length.
    public init(scheme: Scheme, version: UInt64, nonce: [UInt8], sealed: [UInt8]) {
        precondition(version >= 1 && nonce.count == scheme.nonceSize && sealed.count >= AESGCM.tagSize)
        (self.scheme, self.version, self.nonce, self.sealed) = (scheme, version, nonce, sealed)
    }

    /// The text: `cloister:xaes:vN:` or `cloister:vN:`, then the base64 of nonce ‖ ciphertext ‖ tag.
    public var text: String {
        let prefix = scheme == .xaes256GCM ? "cloister:xaes:" : "cloister:"
        return prefix + "v" + String(version) + ":" + Base64.encode(nonce + sealed)
    }

    /// Reads `text` strictly: every rule of `DataCiphertextErrorCode`, in its order.
    public init(parsing text: String) throws(DataCiphertextError) {
        guard text.utf8.count <= Self.maxTextBytes else {
            throw DataCiphertextError(.oversized, "the ciphertext is longer than \(Self.maxTextBytes) bytes")
        }
        let fields = text.utf8.split(separator: UInt8(ascii: ":"), maxSplits: 3, omittingEmptySubsequences: false)
        guard fields.count >= 3, fields[0].elementsEqual("cloister".utf8),
            fields.count == 3 || !fields[3].contains(UInt8(ascii: ":"))
        else {
            throw DataCiphertextError(.malformed, "expected cloister:xaes:vN:BASE64 (or the earlier cloister:vN:BASE64)")
        }
        let scheme: Scheme
        if fields.count == 3 {
            scheme = .aes256GCM
        } else if fields[1].elementsEqual("xaes".utf8) {
            scheme = .xaes256GCM
        } else {
            throw DataCiphertextError(.unknownScheme, "the scheme is not xaes")
        }
        guard let version = Self.version(fields[fields.count - 2]) else {
            throw DataCiphertextError(.badVersion, "the version is not v1, v2, ...")
        }
        guard let bytes = Self.canonicalBase64(fields[fields.count - 1]) else {
            throw DataCiphertextError(.badBase64, "the bytes are not standard padded base64")
        }
        guard bytes.count >= scheme.nonceSize + AESGCM.tagSize else {
            throw DataCiphertextError(.truncated, "\(bytes.count) bytes is shorter than a nonce and a tag")
        }
        let (nonce, sealed) = (Array(bytes.prefix(scheme.nonceSize)), Array(bytes.dropFirst(scheme.nonceSize)))
        self.init(scheme: scheme, version: version, nonce: nonce, sealed: sealed)
    }

    /// `vN` → N, for N from 1 to 2^64 - 1 written in decimal without a sign or leading zeros; nil otherwise.
    static func version(_ field: some Collection<UInt8>) -> UInt64? {
        let digits = field.dropFirst()
        guard field.first == UInt8(ascii: "v"), (1...20).contains(digits.count), digits.first != UInt8(ascii: "0"),
            digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else { return nil }
        return UInt64(String(decoding: digits, as: UTF8.self))
    }

    /// The bytes of `field` when it is exactly what `Base64.encode` writes for them (standard alphabet, padded);
    /// nil otherwise, so that each ciphertext has one text.
    static func canonicalBase64(_ field: some Collection<UInt8>) -> [UInt8]? {
        let text = String(decoding: field, as: UTF8.self)
        guard let bytes = Base64.decode(text), Base64.encode(bytes) == text else { return nil }
        return bytes
    }
}
