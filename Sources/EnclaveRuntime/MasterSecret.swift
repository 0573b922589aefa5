#if canImport(Glibc)
import Glibc
#endif
import CBOR
import NitroAttestation
import SecureModule

/// The deployment's master secret, made inside the enclave and never received, and what is derived from it. Each
/// use has its own HKDF-SHA384 `info` (a CBOR array naming the purpose and its parameters, so that no two uses
/// can collide): the deployment key (`deployment-key`), tenants' wrapping keys (`tenant-wrap`) and the keys that
/// hide tenants' store names (`tenant-names`).
public final class MasterSecret: Sendable {
    let secret: [UInt8]
    /// The deployment key: Ed25519, derived from the master. Its public key is the deployment's commitment, which
    /// every document of the deployment carries and clients remember.
    public let deploymentKey: Ed25519Key

    public static let length = 32

    /// The master `secret` (32 bytes) with its derived keys.
    public init(_ secret: [UInt8]) throws(MasterError) {
        guard secret.count == Self.length else { throw MasterError(.masterCommitmentMismatch, "a master secret is 32 bytes, not \(secret.count)") }
        self.secret = secret
        do { deploymentKey = try MasterDerivation.deploymentKey(secret) } catch {
            throw MasterError(.internalError, "deployment key: \(error)")
        }
    }

    /// The deployment's commitment: the deployment key's raw public key.
    public var commitment: [UInt8] { deploymentKey.publicKey }

    /// A 32-byte key for `purpose` with `parameters` (for example a tenant's name).
    public func derive(_ purpose: String, _ parameters: [String]) -> [UInt8] { Self.derive(secret, purpose, parameters) }

    static func derive(_ secret: [UInt8], _ purpose: String, _ parameters: [String]) -> [UInt8] { MasterDerivation.key(secret, purpose, parameters) }

    /// A new master: the secure module's random and the kernel's, mixed with HKDF, so that neither source alone
    /// decides it.
    public static func generate(module: any SecureModule) async throws(MasterError) -> MasterSecret {
        let fromModule: [UInt8]
        do { fromModule = try await module.random() } catch { throw MasterError(.internalError, "the secure module gave no random bytes: \(error)") }
        var fromKernel = [UInt8](repeating: 0, count: 32)
        let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        let n = fd < 0 ? -1 : fromKernel.withUnsafeMutableBytes { read(fd, $0.baseAddress, 32) }
        if fd >= 0 { close(fd) }
        guard n == 32, fromModule.count >= 32 else { throw MasterError(.internalError, "not enough randomness (module \(fromModule.count) bytes, kernel \(n))") }
        return try MasterSecret(HKDF.derive(.sha384, ikm: fromModule + fromKernel, salt: Array("cloister-master-generation/1".utf8), info: [], length: length))
    }
}
