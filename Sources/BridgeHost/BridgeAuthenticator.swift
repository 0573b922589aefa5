import EnclaveWire
import NitroAttestation
import SecureModule
import Synchronization

/// The host's check that a bridge connection comes from an attested enclave boot (`ChannelProof`): the proof's
/// document verifies against the trusted roots (the AWS root on Nitro, the emulated root in emulation), names a key
/// (`public_key`, P-384) and, when builds are pinned, PCRs of one of them; the key signed this connection's
/// challenge for the channel kind asked for. On a control connection the boot document in the hello must bind the
/// same key, and the signed hello gives the boot's MAC key: later connections of that boot may prove themselves with
/// an HMAC under it instead (an ingress tunnel per client connection costs a hash, not a signature). Anything else is refused with a stable code, before the connection reaches any service: a process on
/// this machine that can reach the bridge port but holds no attested key learns nothing and changes nothing.
///
/// Verified documents are kept (by SHA-256, a few at a time, for `cacheLifetime`) so that a connection costs one
/// signature check, not a chain check.
public final class BridgeAuthenticator: Sendable {
    /// Why a connection was refused; the raw value is the `close` code the host sends.
    public enum Refusal: String, Error, Sendable, CaseIterable {
        /// The hello carries no proof.
        case channelUnproven
        /// The proof's document does not verify against the trusted roots (or its PCRs are no pinned build's).
        case channelAttestationInvalid
        /// The proof's document names no P-384 key, or the signature is not that key's over this challenge.
        case channelProofInvalid
        /// A control hello's boot document binds another key than the one that proved the connection.
        case channelBootMismatch
        /// A MAC proof names a boot whose MAC key this host does not hold (it never saw that boot's control hello, or
        /// restarted since): the enclave signs again.
        case channelMACUnknown
    }

    /// Who proved a connection: the boot's identity key.
    public struct Peer: Sendable, Hashable {
        public let key: ES384PublicKey
    }

    public let roots: TrustedRoots
    /// PCR sets (index to value) a document must match one of; empty: any build under the roots.
    public let builds: [[Int: [UInt8]]]
    /// How long a verified document is taken without checking its chain again.
    public static let cacheLifetime: Duration = .seconds(300)
    static let cacheEntries = 16

    private struct Entry {
        let hash: [UInt8]
        let key: ES384PublicKey
        let verified: ContinuousClock.Instant
    }
    private let cache = Mutex<[Entry]>([])
    /// MAC keys of the boots whose signed control hello gave one, by key id (SHA-256 of the identity key's DER).
    private let macKeys = Mutex<[(id: [UInt8], key: [UInt8], peer: ES384PublicKey)]>([])

    public init(roots: TrustedRoots, builds: [[Int: [UInt8]]] = []) {
        self.roots = roots
        self.builds = builds.filter { !$0.isEmpty }
    }

    /// A fresh challenge for one connection.
    public static func challenge() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<ChannelProof.challengeSize).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    /// Checks the hello of a connection of `kind` whose challenge was `challenge`.
    public func check(kind: ChannelKind, challenge: [UInt8], proof: ChannelProof?, bootDocument: [UInt8]?) -> Result<Peer, Refusal> {
        switch proof {
        case nil:
            return .failure(.channelUnproven)
        case .mac(let id, let tag)?:
            // Control is always signed: it is what gives the MAC key, and its boot document must be checked.
            guard kind != .control else { return .failure(.channelProofInvalid) }
            guard let entry = macKeys.withLock({ $0.first { $0.id == id } }) else { return .failure(.channelMACUnknown) }
            let expected = HKDF.hmac(.sha256, key: entry.key, ChannelProof.signedBytes(channel: kind, challenge: challenge))
            guard Self.equal(expected, tag) else { return .failure(.channelProofInvalid) }
            return .success(Peer(key: entry.peer))
        case .signature(let document, let signature, let macKey)?:
            guard macKey == nil || kind == .control else { return .failure(.channelProofInvalid) }
            let key: ES384PublicKey
            switch verifiedKey(document) {
            case .success(let k): key = k
            case .failure(let refusal): return .failure(refusal)
            }
            guard key.verify(signature: signature, message: ChannelProof.signedBytes(channel: kind, challenge: challenge, macKey: macKey)) else {
                return .failure(.channelProofInvalid)
            }
            if kind == .control {
                // The boot document is what the host records and clients are told of: it must be this key's. (Its chain
                // was checked when it was taken; an old one may have expired since, which is why the proof's is checked.)
                guard let bootDocument, let (_, boot) = try? AttestationVerifier.parse(bootDocument), boot.publicKey == key.spki else {
                    return .failure(.channelBootMismatch)
                }
            }
            if let macKey {
                let id = SHA.sha256(key.spki)
                macKeys.withLock { keys in
                    keys.removeAll { $0.id == id }
                    if keys.count >= Self.cacheEntries { keys.removeFirst() }
                    keys.append((id, macKey, key))
                }
            }
            return .success(Peer(key: key))
        }
    }

    /// Compares in time that depends on the length only.
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }

    private func verifiedKey(_ document: [UInt8]) -> Result<ES384PublicKey, Refusal> {
        let hash = SHA.sha256(document)
        let now = ContinuousClock.now
        if let key = cache.withLock({ entries in entries.first { $0.hash == hash && now - $0.verified < Self.cacheLifetime }?.key }) {
            return .success(key)
        }
        let verified: VerifiedAttestation
        do { verified = try AttestationVerifier(roots: roots, cache: nil).verify(document) } catch {
            return .failure(.channelAttestationInvalid)
        }
        let pcrs = verified.document.pcrs
        guard builds.isEmpty || builds.contains(where: { build in build.allSatisfy { pcrs[$0.key] == $0.value } }) else {
            return .failure(.channelAttestationInvalid)
        }
        guard let spki = verified.document.publicKey, let key = try? ES384PublicKey(spki: spki) else { return .failure(.channelProofInvalid) }
        cache.withLock { entries in
            entries.removeAll { $0.hash == hash || now - $0.verified >= Self.cacheLifetime }
            if entries.count >= Self.cacheEntries { entries.removeFirst() }
            entries.append(Entry(hash: hash, key: key, verified: now))
        }
        return .success(key)
    }
}
