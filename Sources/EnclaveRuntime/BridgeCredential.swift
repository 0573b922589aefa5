import CBOR
import EnclaveWire
import NitroAttestation
import SecureModule
import Synchronization

/// How this boot proves itself to the host's bridge (`ChannelProof`). Made before the enclave dials anything: its
/// identity signing key (P-384, the one the boot document will bind) and a bridge document, an attestation whose
/// `public_key` is that key and whose `user_data` says what it is for (`{"bridge": 1, "manifest": bstr32}`, which no
/// client takes for an identity's claims). Every connection the enclave opens answers the host's challenge with a
/// signature by that key, so the host can tell this boot's connections from any other process's; once the host holds
/// this boot's MAC key (given in the signed control hello), with an HMAC instead. The document is taken again
/// (`refresh`) well before its certificate expires.
public final class BridgeCredential: Sendable {
    /// The identity signing key of this boot.
    let signingKey: P384Key
    private let module: any SecureModule
    private let userData: [UInt8]
    private let document: Held
    /// What the bridge's dialers answer challenges with (one per boot: it knows whether the host holds the MAC key).
    public let prover: ChannelProver

    /// How often `refresh` is worth calling: documents' certificates last hours, this is well inside that.
    public static let refreshInterval: Duration = .seconds(20 * 60)

    public static func create(module: any SecureModule, manifestBytes: [UInt8]) async throws -> BridgeCredential {
        let key = try P384Key.generate()
        let userData = CBOREncoder.encode(.map(["bridge": .unsigned(1), "manifest": .bytes(SHA.sha256(manifestBytes))]))
        let document = try await module.attestation(userData: userData, nonce: nil, publicKey: key.publicKeyDER)
        return BridgeCredential(module: module, key: key, userData: userData, document: document)
    }

    private init(module: any SecureModule, key: P384Key, userData: [UInt8], document: [UInt8]) {
        self.module = module
        self.signingKey = key
        self.userData = userData
        let box = Held(document)
        self.document = box
        let macKey = Random.bytes(ChannelProof.macSize)
        let keyID = SHA.sha256(key.publicKeyDER)
        prover = ChannelProver(
            sign: { kind, challenge, withMACKey in
                let given = withMACKey ? macKey : nil
                let signature = try key.signES384(ChannelProof.signedBytes(channel: kind, challenge: challenge, macKey: given))
                return .signature(document: box.value, signature: signature, macKey: given)
            },
            mac: { kind, challenge in
                .mac(keyID: keyID, tag: HKDF.hmac(.sha256, key: macKey, ChannelProof.signedBytes(channel: kind, challenge: challenge)))
            })
    }

    /// Takes a new bridge document (same key, same user data).
    public func refresh() async throws {
        let fresh = try await module.attestation(userData: userData, nonce: nil, publicKey: signingKey.publicKeyDER)
        document.value = fresh
    }

    /// The current bridge document.
    public var currentDocument: [UInt8] { document.value }

    /// The document, replaced whole by `refresh`.
    private final class Held: Sendable {
        private let mutex: Mutex<[UInt8]>
        init(_ value: [UInt8]) { mutex = Mutex(value) }
        var value: [UInt8] {
            get { mutex.withLock { $0 } }
            set { mutex.withLock { $0 = newValue } }
        }
    }

}
