import NitroAttestation
import SecureModule

@testable import TransparencyLog

/// Keys made in the test run; nothing secret is stored.
enum TestKeys {
    static func key() -> Ed25519Key { try! Ed25519Key(seed: Random.bytes(32)) }
    static let log = try! NoteSigner(name: "cloister/0a1b2c3d", key: key())
    static let witnessA = try! NoteSigner(name: "witness.example/a", type: .cosignatureV1, key: key())
    static let witnessB = try! NoteSigner(name: "witness.example/b", type: .cosignatureV1, key: key())

    static let checkpoint = try! Checkpoint(origin: "cloister/0a1b2c3d", size: 5, rootHash: TreeHash.leaf([1]))

    /// The test checkpoint signed by the log, then cosigned by `witnesses` at `timestamp`.
    static func note(cosignedBy witnesses: [NoteSigner] = [], timestamp: UInt64 = 1_700_000_000) -> [UInt8] {
        var signatures = [try! log.sign(text: checkpoint.text)]
        for w in witnesses { signatures.append(try! w.sign(text: checkpoint.text, timestamp: timestamp)) }
        return try! SignedNote(text: checkpoint.text, signatures: signatures).encoded
    }
}
