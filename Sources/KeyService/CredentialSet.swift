import CBOR
import EnclaveWire

/// A tenant's credentials, as the enclave keeps them (sealed) in the host's store. The tenant came into being with
/// its first credential, whose id is the tenant's `root` for good (receipts carry it); after that the set changes
/// only by actions signed by a current credential. A tenant with passkeys also keeps its WebAuthn settings (the
/// relying party id and allowed origins) and each passkey's signature counter.
struct CredentialSet: Sendable, Hashable {
    struct Entry: Sendable, Hashable {
        var credential: Credential
        var added: UInt64
        var revoked: UInt64?
        /// A passkey's last signature counter.
        var signCount: UInt32 = 0
    }

    /// What a tenant's passkeys are checked against (W3C WebAuthn §7.2).
    struct WebAuthnSettings: Sendable, Hashable {
        var rpID: String
        var origins: [String]
        var requireUserVerification: Bool
    }

    var root: [UInt8]
    var entries: [Entry]
    var webauthn: WebAuthnSettings?

    /// Most credentials a tenant holds (revoked ones included).
    static let capacity = 64

    func entry(_ id: [UInt8]) -> Entry? { entries.first { $0.credential.id == id } }

    var encoded: [UInt8] {
        var map: CBORMap = [
            "root": .bytes(root),
            "entries": .array(
                entries.map { e in
                    .array([e.credential.cbor, .unsigned(e.added), e.revoked.map { .unsigned($0) } ?? .null, .unsigned(UInt64(e.signCount))])
                }),
        ]
        if let w = webauthn {
            map[.text("webauthn")] = .array([.text(w.rpID), .array(w.origins.map { .text($0) }), .bool(w.requireUserVerification)])
        }
        return CBOREncoder.encode(.map(map))
    }

    init(root: [UInt8], entries: [Entry], webauthn: WebAuthnSettings? = nil) {
        self.root = root
        self.entries = entries
        self.webauthn = webauthn
    }

    init(encoded bytes: [UInt8]) throws(KeyServiceError) {
        guard let item = try? CBORDecoder(limits: .init(maxInputSize: 256 * 1024, maxDepth: 4, maxItems: 4096)).decode(bytes), let map = item.map,
            let root = map[.text("root")]?.bytes, root.count == 32, let list = map[.text("entries")]?.array, !list.isEmpty
        else { throw KeyServiceError("keyBlobInvalid", "the credential set does not parse") }
        var entries: [Entry] = []
        for e in list {
            guard let a = e.array, a.count == 4, let credential = try? Credential(a[0]), let added = a[1].uint64, let count = a[3].uint64,
                count <= UInt64(UInt32.max)
            else { throw KeyServiceError("keyBlobInvalid", "a credential entry does not parse") }
            entries.append(Entry(credential: credential, added: added, revoked: a[2].uint64, signCount: UInt32(count)))
        }
        var webauthn: WebAuthnSettings?
        if let w = map[.text("webauthn")] {
            guard let a = w.array, a.count == 3, let rp = a[0].text, let origins = a[1].array, let uv = a[2].bool, origins.allSatisfy({ $0.text != nil }) else {
                throw KeyServiceError("keyBlobInvalid", "the tenant's WebAuthn settings do not parse")
            }
            webauthn = WebAuthnSettings(rpID: rp, origins: origins.compactMap(\.text), requireUserVerification: uv)
        }
        self.init(root: root, entries: entries, webauthn: webauthn)
    }
}
