import CBOR

/// One named key of one tenant, with every version, as the enclave keeps it (sealed) in the host's store.
struct KeyRecord: Sendable, Hashable {
    struct Version: Sendable, Hashable {
        var number: UInt64
        var material: [UInt8]
        var created: UInt64
    }

    /// How many distinct credentials of a named set must approve `sign`, `configure` and `delete` of the key.
    struct Quorum: Sendable, Hashable {
        var k: Int
        var credentials: [[UInt8]]
    }

    var type: KeyType
    var versions: [Version]
    var minDecryptionVersion: UInt64 = 1
    var deletionAllowed = false
    var created: UInt64
    var quorum: Quorum?

    var latest: Version { versions.last! }

    func version(_ n: UInt64) -> Version? { versions.first { $0.number == n } }

    var encoded: [UInt8] {
        var map: CBORMap = [
            "type": .text(type.rawValue),
            "versions": .array(versions.map { .array([.unsigned($0.number), .bytes($0.material), .unsigned($0.created)]) }),
            "min": .unsigned(minDecryptionVersion), "delete": .bool(deletionAllowed), "created": .unsigned(created),
        ]
        if let quorum { map[.text("quorum")] = .array([.unsigned(UInt64(quorum.k)), .array(quorum.credentials.map { .bytes($0) })]) }
        return CBOREncoder.encode(.map(map))
    }

    init(type: KeyType, versions: [Version], created: UInt64) {
        self.type = type
        self.versions = versions
        self.created = created
    }

    init(encoded bytes: [UInt8]) throws(KeyServiceError) {
        guard let item = try? CBORDecoder(limits: .init(maxInputSize: 1 << 20, maxDepth: 3, maxItems: 100_000)).decode(bytes), let map = item.map,
            let type = map[.text("type")]?.text.flatMap(KeyType.init(rawValue:)), let list = map[.text("versions")]?.array, !list.isEmpty,
            let min = map[.text("min")]?.uint64, let delete = map[.text("delete")]?.bool, let created = map[.text("created")]?.uint64
        else { throw KeyServiceError("keyBlobInvalid", "the key record does not parse") }
        var versions: [Version] = []
        for v in list {
            guard let a = v.array, a.count == 3, let n = a[0].uint64, let m = a[1].bytes, let c = a[2].uint64 else {
                throw KeyServiceError("keyBlobInvalid", "a key version does not parse")
            }
            versions.append(Version(number: n, material: m, created: c))
        }
        self.init(type: type, versions: versions, created: created)
        minDecryptionVersion = min
        deletionAllowed = delete
        if let q = map[.text("quorum")] {
            guard let a = q.array, a.count == 2, let k = a[0].uint64, let ids = a[1].array, ids.allSatisfy({ $0.bytes?.count == 32 }) else {
                throw KeyServiceError("keyBlobInvalid", "a key's quorum does not parse")
            }
            quorum = Quorum(k: Int(k), credentials: ids.compactMap(\.bytes))
        }
    }
}
