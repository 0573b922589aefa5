import NitroAttestation

/// An order-independent digest of a set of records that changes in O(1) per record added or removed: a lattice
/// hash (LtHash) of 1,024 16-bit lanes, each record expanded to 2,048 bytes with SHA-256 in counter mode and added
/// lane by lane modulo 2^16. Two sets have the same digest only if they are the same set (for records nobody can
/// choose freely: each is a key, a version and the hash of a blob this enclave sealed).
struct StateDigest: Sendable, Equatable {
    static let lanes = 1024
    private var sums = [UInt16](repeating: 0, count: lanes)

    init() {}

    /// The element of record (`key`, `version`, `hash`): keys are printable ASCII, so the NUL ends them.
    static func element(key: String, version: UInt64, hash: [UInt8]) -> [UInt16] {
        let message = Array(key.utf8) + [0] + (0..<8).map { UInt8(truncatingIfNeeded: version >> (56 - 8 * $0)) } + hash
        var out: [UInt16] = []
        out.reserveCapacity(lanes)
        for block in 0..<(lanes * 2 / 32) {
            let d = SHA.sha256(Array("cloister-state/1".utf8) + [UInt8(block >> 8), UInt8(block & 0xFF)] + message)
            for i in stride(from: 0, to: 32, by: 2) { out.append(UInt16(d[i]) | UInt16(d[i + 1]) << 8) }
        }
        return out
    }

    mutating func add(key: String, version: UInt64, hash: [UInt8]) {
        let e = Self.element(key: key, version: version, hash: hash)
        for i in 0..<Self.lanes { sums[i] &+= e[i] }
    }

    mutating func remove(key: String, version: UInt64, hash: [UInt8]) {
        let e = Self.element(key: key, version: version, hash: hash)
        for i in 0..<Self.lanes { sums[i] &-= e[i] }
    }

    /// The 32-byte root a log head carries: SHA-256 of the lanes, little-endian.
    var root: [UInt8] { SHA.sha256(sums.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }) }
}
