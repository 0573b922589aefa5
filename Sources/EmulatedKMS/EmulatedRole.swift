import Foundation
import NitroAttestation
import SecureModule
import Synchronization

/// The instance role of emulation: it issues temporary credentials the way the instance metadata service hands out
/// a role's (access key `ASIA…`, secret, session token, expiry), and the emulated KMS accepts exactly the ones it
/// issued, until they expire. A new set is issued once the current one has less than half its lifetime left; older
/// sets stay valid until their own expiry, as AWS's do.
public final class EmulatedRole: Sendable {
    public struct Credentials: Sendable, Hashable {
        public let accessKeyID: String
        public let secretAccessKey: String
        public let sessionToken: String
        /// Seconds since 1970.
        public let expiration: Int64
    }

    /// The role's ARN, which the key policy names.
    public let arn: String
    /// How long each set of credentials lives, in seconds (AWS: about 6 hours).
    public let lifetime: Int64
    private let issued = Mutex<[String: Credentials]>([:])
    private let now: @Sendable () -> Int64

    public init(arn: String = "arn:aws:iam::000000000000:role/cloister-enclave", lifetime: Int64 = 6 * 3600, now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }) {
        self.arn = arn
        self.lifetime = lifetime
        self.now = now
    }

    /// The credentials the metadata service would hand out now.
    public func current() -> Credentials {
        let t = now()
        return issued.withLock { issued in
            issued = issued.filter { $0.value.expiration > t }
            if let newest = issued.values.max(by: { $0.expiration < $1.expiration }), newest.expiration - t > lifetime / 2 { return newest }
            let fresh = Credentials(
                accessKeyID: "ASIA" + Self.letters(16), secretAccessKey: Base64.encode(Random.bytes(30)),
                sessionToken: Base64.encode(Random.bytes(96)), expiration: t + lifetime)
            issued[fresh.accessKeyID] = fresh
            return fresh
        }
    }

    /// What was issued under `accessKeyID`: nil if never, `expired` if no longer valid.
    public func lookup(_ accessKeyID: String) -> (credentials: Credentials, expired: Bool)? {
        let t = now()
        return issued.withLock { $0[accessKeyID] }.map { ($0, $0.expiration <= t) }
    }

    static func letters(_ count: Int) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        return String(Random.bytes(count).map { alphabet[Int($0) % alphabet.count] })
    }
}
