import CBOR

/// How keys come from a deployment's master secret: HKDF-SHA384 with a per-use `info` (a CBOR array of the purpose
/// and its parameters), and the deployment's commitment, the raw public key of the Ed25519 key derived for
/// `deployment-key`. The enclave derives everything this way; a recovery tool checks a recovered master with it.
public enum MasterDerivation {
    static let salt = Array("cloister-master/1".utf8)

    /// A 32-byte key for `purpose` with `parameters`.
    public static func key(_ secret: [UInt8], _ purpose: String, _ parameters: [String]) -> [UInt8] {
        let info = CBOREncoder.encode(.array([.text(purpose)] + parameters.map { .text($0) }))
        return HKDF.derive(.sha384, ikm: secret, salt: salt, info: info, length: 32)
    }

    /// The deployment key of `secret`.
    public static func deploymentKey(_ secret: [UInt8]) throws(NSMError) -> Ed25519Key { try Ed25519Key(seed: key(secret, "deployment-key", [])) }

    /// The deployment's commitment for `secret`, or nil if no key can be made from it.
    public static func commitment(_ secret: [UInt8]) -> [UInt8]? { try? deploymentKey(secret).publicKey }
}
