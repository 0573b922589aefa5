import EnclaveWire
import NitroAttestation
import SecureModule

/// The credential operations (`credential.*`): a tenant's credential set, changed only by its own credentials.
extension KeyServiceWorkload {
    static let credentialFields: [String: Set<String>] = ["add": ["kind", "publicKey", "label"], "revoke": ["id"], "list": []]

    /// The credential a `credential.add` body names.
    static func newCredential(_ input: Input) throws(KeyServiceError) -> Credential {
        guard let kind = Credential.Kind(rawValue: try input.string("kind")) else {
            throw KeyServiceError("badRequest", "kind is one of \(Credential.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let spki = try input.bytes("publicKey")
        guard spki.count <= Credential.maxSPKI, CredentialVerifier.kind(spki: spki)?.rawValue == kind.rawValue else {
            throw KeyServiceError("badRequest", "publicKey must be the DER SubjectPublicKeyInfo of a \(kind.rawValue) key")
        }
        var label: String?
        if input.object["label"] != nil {
            let l = try input.string("label")
            guard !l.isEmpty, l.utf8.count <= Credential.maxLabel, l.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
                throw KeyServiceError("badRequest", "a label is 1 to \(Credential.maxLabel) bytes of printable text")
            }
            label = l
        }
        return Credential(kind: kind, spki: spki, label: label)
    }

    /// Runs credential operation `op` (without its `credential.` prefix) for `tenant`; its JSON result.
    func performCredential(_ op: String, tenant: String, _ input: Input) async throws(KeyServiceError) -> [UInt8] {
        try input.only(Self.credentialFields[op] ?? [], operation: "credential." + op)
        let now = Self.now()
        switch op {
        case "add":
            let credential = try Self.newCredential(input)
            let set = try await vault.updateCredentials(tenant) { (current: CredentialSet?) throws(KeyServiceError) -> CredentialSet in
                guard var set = current else { return CredentialSet(root: credential.id, entries: [.init(credential: credential, added: now)]) }
                guard set.entry(credential.id) == nil else { throw KeyServiceError("credentialExists", "the tenant already has this credential") }
                guard set.entries.count < CredentialSet.capacity else { throw KeyServiceError("tooManyCredentials", "a tenant holds at most \(CredentialSet.capacity) credentials") }
                set.entries.append(.init(credential: credential, added: now))
                return set
            }
            return try Self.describe(set)
        case "revoke":
            guard let id = Hex.decode(try input.string("id")), id.count == 32 else { throw KeyServiceError("badRequest", "id is the credential's id (64 hex digits)") }
            let set = try await vault.updateCredentials(tenant) { (current: CredentialSet?) throws(KeyServiceError) -> CredentialSet in
                guard var set = current, let i = set.entries.firstIndex(where: { $0.credential.id == id }) else {
                    throw KeyServiceError("unknownCredential", "the tenant has no credential \(Hex.encode(id).prefix(16))…")
                }
                guard set.entries[i].revoked == nil else { throw KeyServiceError("credentialRevoked", "that credential is already revoked") }
                set.entries[i].revoked = now
                return set
            }
            return try Self.describe(set)
        case "list":
            guard let set = try await vault.credentials(tenant).set else { throw KeyServiceError("noCredentials", "the tenant has no credential yet") }
            return try Self.describe(set)
        default:
            throw KeyServiceError("unknownOperation", "credentials have add, revoke, list")
        }
    }

    static func describe(_ set: CredentialSet) throws(KeyServiceError) -> [UInt8] {
        try KeyResults.encode(
            KeyResults.Credentials(
                root: Hex.encode(set.root),
                credentials: set.entries.map { e in
                    KeyResults.CredentialDescription(
                        id: Hex.encode(e.credential.id), kind: e.credential.kind.rawValue, publicKey: Base64.encode(e.credential.spki),
                        label: e.credential.label, added: e.added, revoked: e.revoked)
                }))
    }
}
