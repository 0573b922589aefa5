import CBOR
import EnclaveWire

/// A tenant's credentials, as the enclave keeps them (sealed) in the host's store. The tenant came into being with
/// its first credential, whose id is the tenant's `root` for good (receipts carry it); after that the set changes
/// only by actions signed by a current credential.
struct CredentialSet: Sendable, Hashable {
    struct Entry: Sendable, Hashable {
        var credential: Credential
        var added: UInt64
        var revoked: UInt64?
    }

    var root: [UInt8]
    var entries: [Entry]

    /// Most credentials a tenant holds (revoked ones included).
    static let capacity = 64

    func entry(_ id: [UInt8]) -> Entry? { entries.first { $0.credential.id == id } }

    var encoded: [UInt8] {
        CBOREncoder.encode(
            .map([
                "root": .bytes(root),
                "entries": .array(entries.map { e in .array([e.credential.cbor, .unsigned(e.added), e.revoked.map { .unsigned($0) } ?? .null]) }),
            ]))
    }

    init(root: [UInt8], entries: [Entry]) {
        self.root = root
        self.entries = entries
    }

    init(encoded bytes: [UInt8]) throws(KeyServiceError) {
        guard let item = try? CBORDecoder(limits: .init(maxInputSize: 64 * 1024, maxDepth: 4, maxItems: 2048)).decode(bytes), let map = item.map,
            let root = map[.text("root")]?.bytes, root.count == 32, let list = map[.text("entries")]?.array, !list.isEmpty
        else { throw KeyServiceError("keyBlobInvalid", "the credential set does not parse") }
        var entries: [Entry] = []
        for e in list {
            guard let a = e.array, a.count == 3, let credential = try? Credential(a[0]), let added = a[1].uint64 else {
                throw KeyServiceError("keyBlobInvalid", "a credential entry does not parse")
            }
            entries.append(Entry(credential: credential, added: added, revoked: a[2].uint64))
        }
        self.init(root: root, entries: entries)
    }
}
