import CBOR
import EnclaveRuntime
import EnclaveWire
import NitroAttestation
import SecureModule

#if canImport(Glibc)
import Glibc
#endif

/// The key operations (`key.*`): what each does once the job is authorised.
extension KeyServiceWorkload {
    /// The fields each operation reads; any other is refused, so that a misspelled option is never ignored.
    static let fields: [String: Set<String>] = [
        "create": ["name", "type"], "list": [], "describe": ["name"], "rotate": ["name"],
        "configure": ["name", "minDecryptionVersion", "deletionAllowed", "quorum"], "delete": ["name"],
        "sign": ["name", "input", "prehashed"], "verify": ["name", "input", "signature", "prehashed"],
        "encrypt": ["name", "plaintext", "context"], "decrypt": ["name", "ciphertext", "context"], "rewrap": ["name", "ciphertext", "context"],
    ]

    /// Runs key operation `op` (without its `key.` prefix) for `tenant`; its JSON result.
    /// `approvers`: the credentials that approved the action (a key with a quorum needs enough of them).
    func performKey(_ op: String, tenant: String, _ input: Input, approvers: [[UInt8]] = []) async throws(KeyServiceError) -> [UInt8] {
        if let known = Self.fields[op] { try input.only(known, operation: "key." + op) }
        switch op {
        case "create":
            let name = try input.name()
            guard let type = KeyType(rawValue: try input.string("type")) else {
                throw KeyServiceError("badRequest", "type is one of \(KeyType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let limit = vault.limits.keysPerTenant
            let full = KeyServiceError("tooManyKeys", "tenant \(tenant) holds \(limit) keys, this deployment's limit; delete one first")
            // Checked before the material is made (a tenant at its limit costs no key generation), and again below.
            guard try await vault.names(tenant).0.count < limit else { throw full }
            let material = try type.generate()
            let now = Self.now()
            // The index's lock for the whole create: concurrent creates cannot pass the limit together.
            let record = try await vault.changingNames(tenant) { () throws(KeyServiceError) -> KeyRecord in
                guard try await vault.names(tenant).0.count < limit else { throw full }
                let record: KeyRecord?
                do throws(KeyServiceError) {
                    record = try await vault.update(tenant, name, { (existing: KeyRecord?) throws(KeyServiceError) -> KeyRecord? in
                        guard existing == nil else { throw KeyServiceError("keyExists", "key \(name) exists") }
                        return KeyRecord(type: type, versions: [.init(number: 1, material: material, created: now)], created: now)
                    })
                } catch where error.code == "keyExists" {
                    // A create whose index update failed left the key out of the list: put it back.
                    try await vault.updateNamesHeld(tenant) { Array(Set($0 + [name])).sorted() }
                    throw error
                }
                guard let record else { throw KeyServiceError("internal", "no record") }
                try await vault.updateNamesHeld(tenant) { Array(Set($0 + [name])).sorted() }
                return record
            }
            return try describe(name, record)
        case "list":
            return try KeyResults.encode(KeyResults.KeyList(keys: try await vault.names(tenant).0))
        case "describe":
            let name = try input.name()
            return try describe(name, try await existing(tenant, name).0)
        case "rotate":
            let name = try input.name()
            let limit = vault.limits.versionsPerKey
            let record = try await change(tenant, name) { (r: inout KeyRecord) throws(KeyServiceError) in
                guard r.versions.count < limit else {
                    throw KeyServiceError("tooManyVersions", "key \(name) has \(limit) versions, this deployment's limit")
                }
                r.versions.append(.init(number: r.latest.number + 1, material: try r.type.generate(), created: Self.now()))
            }
            return try describe(name, record)
        case "configure":
            let name = try input.name()
            let minimum = try input.optionalUInt("minDecryptionVersion")
            let deletion = try input.optionalBool("deletionAllowed")
            let quorum = try await Self.quorum(input, credentials: try await vault.credentials(tenant).set)
            let record = try await change(tenant, name) { (r: inout KeyRecord) throws(KeyServiceError) in
                try Self.checkQuorum(r, approvers)
                if let quorum { r.quorum = quorum.k == 0 ? nil : quorum }
                if let minimum {
                    guard minimum >= 1, minimum <= r.latest.number else {
                        throw KeyServiceError("badRequest", "minDecryptionVersion must be 1 to \(r.latest.number)")
                    }
                    r.minDecryptionVersion = minimum
                }
                if let deletion { r.deletionAllowed = deletion }
            }
            return try describe(name, record)
        case "delete":
            let name = try input.name()
            let deleted = try await vault.changing(tenant, name) { () throws(KeyServiceError) -> Bool in
                for _ in 0..<16 {
                    let (current, version) = try await vault.load(tenant, name)
                    guard let record = current else { throw KeyServiceError("keyNotFound", "no key \(name)") }
                    try Self.checkQuorum(record, approvers)
                    guard record.deletionAllowed else { throw KeyServiceError("deletionNotAllowed", "configure deletionAllowed first") }
                    if try await vault.delete(tenant, name, expected: version) { return true }
                }
                return false
            }
            guard deleted else { throw KeyServiceError("conflict", "the key kept changing") }
            try await vault.updateNames(tenant) { $0.filter { $0 != name } }
            return try KeyResults.encode(KeyResults.Deleted(deleted: name))
        case "sign":
            let name = try input.name()
            let (record, _) = try await existing(tenant, name)
            guard record.type.signs else { throw KeyServiceError("unsupportedOperation", "\(record.type.rawValue) keys do not sign") }
            try Self.checkQuorum(record, approvers)
            let version = record.latest
            let key = try vault.privateKey(version.material, type: record.type)
            let signature = try key.sign(try input.bytes("input"), prehashed: try input.optionalBool("prehashed") ?? false)
            return try KeyResults.encode(
                KeyResults.Signed(signature: "cloister:v\(version.number):\(Base64.encode(signature))", version: version.number, publicKey: Base64.encode(key.publicKey)))
        case "verify":
            let name = try input.name()
            let (record, _) = try await existing(tenant, name)
            guard record.type.signs else { throw KeyServiceError("unsupportedOperation", "\(record.type.rawValue) keys do not verify") }
            let (number, signature) = try Self.parseVersioned(try input.string("signature"), code: "invalidSignature")
            guard let version = record.version(number) else { throw KeyServiceError("unknownVersion", "key \(name) has no version \(number)") }
            let valid = try vault.privateKey(version.material, type: record.type).verify(
                signature, input: try input.bytes("input"), prehashed: try input.optionalBool("prehashed") ?? false)
            return try KeyResults.encode(KeyResults.Verified(valid: valid, version: number))
        case "encrypt":
            let name = try input.name()
            let (record, _) = try await existing(tenant, name)
            return try encrypt(tenant, name, record, try input.bytes("plaintext"), context: try input.optionalBytes("context"))
        case "decrypt":
            let name = try input.name()
            let (record, _) = try await existing(tenant, name)
            let plaintext = try decrypt(tenant, name, record, try input.string("ciphertext"), context: try input.optionalBytes("context"))
            return try KeyResults.encode(KeyResults.Decrypted(plaintext: Base64.encode(plaintext)))
        case "rewrap":
            let name = try input.name()
            let (record, _) = try await existing(tenant, name)
            let context = try input.optionalBytes("context")
            let plaintext = try decrypt(tenant, name, record, try input.string("ciphertext"), context: context)
            return try encrypt(tenant, name, record, plaintext, context: context)
        default:
            throw KeyServiceError("unknownOperation", "the key service has create, list, describe, rotate, configure, delete, sign, verify, encrypt, decrypt, rewrap")
        }
    }

    /// Refuses an action on a key whose quorum the approvers do not meet: distinct credentials of its named set.
    static func checkQuorum(_ r: KeyRecord, _ approvers: [[UInt8]]) throws(KeyServiceError) {
        guard let q = r.quorum else { return }
        let approved = Set(approvers).intersection(q.credentials).count
        guard approved >= q.k else {
            throw KeyServiceError("quorumNotMet", "this key needs \(q.k) of its \(q.credentials.count) named credentials to approve; \(approved) did")
        }
    }

    /// A `configure` body's `quorum`: `{"k": N, "credentials": [HEX, ...]}` (each a current credential of the
    /// tenant), or `{"k": 0}` to remove it; nil when absent.
    static func quorum(_ input: Input, credentials: CredentialSet?) throws(KeyServiceError) -> KeyRecord.Quorum? {
        guard let value = input.object["quorum"] else { return nil }
        guard let o = value.object, let k = o["k"]?.number, k >= 0, k <= 16, k == k.rounded(), Set(o.keys).isSubset(of: ["k", "credentials"]) else {
            throw KeyServiceError("badRequest", "quorum is {\"k\": 1 to 16, \"credentials\": [ids]}, or {\"k\": 0} to remove it")
        }
        if k == 0 { return KeyRecord.Quorum(k: 0, credentials: []) }
        let ids = try (o["credentials"]?.items ?? []).map { (item: JSONValue) throws(KeyServiceError) -> [UInt8] in
            guard let text = item.string, let id = Hex.decode(text), id.count == 32 else { throw KeyServiceError("badRequest", "a quorum names credentials by id (64 hex digits)") }
            guard let entry = credentials?.entry(id), entry.revoked == nil else {
                throw KeyServiceError("unknownCredential", "the tenant has no current credential \(text.prefix(16))…")
            }
            return id
        }
        guard Set(ids).count == ids.count, Int(k) <= ids.count, ids.count <= SealedRequest.maxApprovals else {
            throw KeyServiceError("badRequest", "a quorum names 1 to \(SealedRequest.maxApprovals) distinct credentials, at least k")
        }
        return KeyRecord.Quorum(k: Int(k), credentials: ids)
    }

    private func existing(_ tenant: String, _ name: String) async throws(KeyServiceError) -> (KeyRecord, UInt64) {
        guard let (record, version) = try await vault.record(tenant, name) else { throw KeyServiceError("keyNotFound", "no key \(name)") }
        return (record, version)
    }

    private func change(_ tenant: String, _ name: String, _ body: (inout KeyRecord) throws(KeyServiceError) -> Void) async throws(KeyServiceError) -> KeyRecord {
        let updated = try await vault.update(tenant, name) { (r: KeyRecord?) throws(KeyServiceError) -> KeyRecord? in
            guard var r else { throw KeyServiceError("keyNotFound", "no key \(name)") }
            try body(&r)
            return r
        }
        guard let updated else { throw KeyServiceError("keyNotFound", "no key \(name)") }
        return updated
    }

    private func describe(_ name: String, _ r: KeyRecord) throws(KeyServiceError) -> [UInt8] {
        var versions: [KeyResults.VersionDescription] = []
        for v in r.versions {
            let publicKey = r.type.signs ? Base64.encode(try vault.privateKey(v.material, type: r.type).publicKey) : nil
            versions.append(KeyResults.VersionDescription(version: v.number, created: v.created, publicKey: publicKey))
        }
        return try KeyResults.encode(
            KeyResults.KeyDescription(
                name: name, type: r.type.rawValue, latestVersion: r.latest.number, minDecryptionVersion: r.minDecryptionVersion,
                deletionAllowed: r.deletionAllowed, versions: versions,
                quorum: r.quorum.map { KeyResults.QuorumDescription(k: $0.k, credentials: $0.credentials.map { Hex.encode($0) }) }))
    }

    static func dataAAD(_ tenant: String, _ name: String, _ version: UInt64, _ context: [UInt8]?) -> [UInt8] {
        CBOREncoder.encode(.array([.text("cloister-data/1"), .text(tenant), .text(name), .unsigned(version), context.map { .bytes($0) } ?? .null]))
    }

    private func encrypt(_ tenant: String, _ name: String, _ r: KeyRecord, _ plaintext: [UInt8], context: [UInt8]?) throws(KeyServiceError) -> [UInt8] {
        guard r.type == .aes256GCM else { throw KeyServiceError("unsupportedOperation", "\(r.type.rawValue) keys do not encrypt") }
        // 192-bit random nonces: no count of messages per version to keep, so none the host could roll back.
        let nonce = Random.bytes(XAES256GCM.nonceSize)
        let v = r.latest
        let sealed: [UInt8]
        do { sealed = try XAES256GCM.seal(plaintext, key: v.material, nonce: nonce, aad: Self.dataAAD(tenant, name, v.number, context)) } catch {
            throw KeyServiceError("internal", "\(error)")
        }
        let ciphertext = DataCiphertext(scheme: .xaes256GCM, version: v.number, nonce: nonce, sealed: sealed)
        return try KeyResults.encode(KeyResults.Encrypted(ciphertext: ciphertext.text, version: v.number))
    }

    private func decrypt(_ tenant: String, _ name: String, _ r: KeyRecord, _ text: String, context: [UInt8]?) throws(KeyServiceError) -> [UInt8] {
        guard r.type == .aes256GCM else { throw KeyServiceError("unsupportedOperation", "\(r.type.rawValue) keys do not decrypt") }
        let c: DataCiphertext
        do { c = try DataCiphertext(parsing: text) } catch { throw KeyServiceError("invalidCiphertext", "\(error)") }
        guard c.version >= r.minDecryptionVersion else {
            throw KeyServiceError("versionRetired", "version \(c.version) is below the minimum decryption version \(r.minDecryptionVersion)")
        }
        guard let v = r.version(c.version) else { throw KeyServiceError("unknownVersion", "key \(name) has no version \(c.version)") }
        let aad = Self.dataAAD(tenant, name, c.version, context)
        let forged = KeyServiceError("invalidCiphertext", "the ciphertext does not open under this tenant, key, version and context")
        switch c.scheme {
        case .xaes256GCM:
            do { return try XAES256GCM.open(c.sealed, key: v.material, nonce: c.nonce, aad: aad) } catch {
                throw error.code == .authenticationFailed ? forged : KeyServiceError("internal", "\(error)")
            }
        case .aes256GCM:
            do { return try AESGCM.open(c.sealed, key: v.material, nonce: c.nonce, aad: aad) } catch {
                throw error == .authenticationFailed ? forged : KeyServiceError("internal", "\(error)")
            }
        }
    }

    /// A signature's text, `cloister:vN:BASE64` → (N, bytes), read by the rules of `DataCiphertext`'s version and bytes.
    static func parseVersioned(_ text: String, code: String) throws(KeyServiceError) -> (UInt64, [UInt8]) {
        let parts = text.utf8.split(separator: UInt8(ascii: ":"), maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].elementsEqual("cloister".utf8), let n = DataCiphertext.version(parts[1]),
            let bytes = DataCiphertext.canonicalBase64(parts[2])
        else { throw KeyServiceError(code, "expected cloister:vN:BASE64") }
        return (n, bytes)
    }

    /// The enclave clock in milliseconds since the Unix epoch.
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
    }
}
