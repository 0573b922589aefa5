import NIOSSL
import NitroAttestation
import SecureModule

/// What the enclave trusts when it talks to KMS: the roots attestation documents chain to (for genesis documents)
/// and the roots KMS's TLS certificate must chain to. On Nitro: AWS's Nitro root and the Amazon Trust Services
/// roots the image carries (measured with it); in emulation the emulated root for both, and nothing else.
struct KMSTrust {
    let attestation: TrustedRoots
    let tls: [NIOSSLCertificate]

    static func load(emulated: Bool, emulatorDirectory: String, rootsFile: String) throws -> KMSTrust {
        if emulated {
            let root = try EmulatedRoot.load(directory: emulatorDirectory).certificate
            return KMSTrust(attestation: TrustedRoots(certificates: [root]), tls: [try NIOSSLCertificate(bytes: root.der, format: .der)])
        }
        let roots: [NIOSSLCertificate]
        do { roots = try NIOSSLCertificate.fromPEMFile(rootsFile) } catch {
            throw SealingRefusal(code: "kmsTrustRootsMissing", reason: "the image carries no KMS TLS roots at \(rootsFile): \(error)")
        }
        guard !roots.isEmpty else { throw SealingRefusal(code: "kmsTrustRootsMissing", reason: "\(rootsFile) holds no certificate") }
        return KMSTrust(attestation: .aws, tls: roots)
    }
}
