import NitroAttestation
import SecureModule
import TransparencyLog

/// A deployment's log key made in the test (nothing secret is stored), signing heads of logs of test leaves as an
/// enclave signs its deployment log's: C2SP checkpoints under `cloister/<commitment hex>`.
public struct TestDeployment: Sendable {
    public let key: Ed25519Key
    public var commitment: [UInt8] { key.publicKey }
    public var origin: String { "cloister/" + Hex.encode(commitment).lowercased() }

    public init() { key = try! Ed25519Key(seed: Random.bytes(32)) }

    /// The leaf hashes of a test log of `count` entries; `salt` makes another log.
    public static func leaves(_ count: Int, salt: UInt8 = 0) -> [[UInt8]] { (0..<count).map { TreeHash.leaf([salt, UInt8(truncatingIfNeeded: $0), UInt8($0 >> 8)]) } }

    /// The checkpoint of the first `size` of `leaves`.
    public func checkpoint(_ leaves: [[UInt8]], size: Int) -> Checkpoint {
        try! Checkpoint(origin: origin, size: UInt64(size), rootHash: TreeHash.root(leafHashes: leaves[0..<size]))
    }

    /// The signed head (a note) of the first `size` of `leaves`, with the cosignatures of `witnesses` at `time`.
    public func head(_ leaves: [[UInt8]], size: Int, cosignedBy witnesses: [NoteSigner] = [], time: UInt64 = 1_700_000_000) -> [UInt8] {
        let text = checkpoint(leaves, size: size).text
        let signatures = [try! NoteSigner(name: origin, key: key).sign(text: text)] + witnesses.map { try! $0.sign(text: text, timestamp: time) }
        return try! SignedNote(text: text, signatures: signatures).encoded
    }
}
