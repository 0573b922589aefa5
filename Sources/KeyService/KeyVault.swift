import CBOR
import EnclaveRuntime
import Logging
import NitroAttestation
import SecureModule
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The keys of every tenant, sealed in the host's store. Each tenant has its own wrapping key, derived from the
/// master secret with the tenant in the HKDF info (`tenant-wrap`); each key record is AES-256-GCM under it with
/// the tenant, the key name and the store version in the associated data, so a blob moved to another tenant or
/// key, or served under another version, does not open. Store keys hide key names with an HMAC under a separate
/// key (`tenant-names`). Within a boot, a blob older than one already seen, or absent after it was seen, is refused
/// (`staleKeyBlob`: by the vault's mark while it keeps one, and by the store index below, `TrackedStore`, in any
/// case), and records in use are kept in memory, since this enclave is their only writer. (Several enclaves sharing
/// one store would need the cache to check versions; that deployment does not exist yet.) Every cache and mark is
/// bounded by bytes (`EnclaveMemory`), the least recently used going first.
public final class KeyVault: Sendable {
    private struct TenantKeys {
        var wrap: [UInt8]
        var names: [UInt8]
    }

    private struct State {
        var highWater: ByteBoundedCache<MarkKey, UInt64>
        var parsed: ByteBoundedCache<InlineDigest, PrivateKey>
        var tenants: ByteBoundedCache<String, TenantKeys>
        var records: ByteBoundedCache<String, (record: KeyRecord?, version: UInt64)>
        var credentials: ByteBoundedCache<String, (set: CredentialSet?, version: UInt64)>
        /// Counts the writes begun, in stripes by record: a read that saw a write of its stripe begin meanwhile
        /// keeps nothing, so that an evicted newer entry is never replaced by an older one.
        var writes = [UInt64](repeating: 0, count: KeyVault.stripes)

        init(_ memory: EnclaveMemory) {
            highWater = ByteBoundedCache(maxBytes: memory.rollbackMarkBytes)
            parsed = ByteBoundedCache(maxBytes: memory.parsedKeyBytes)
            tenants = ByteBoundedCache(maxBytes: memory.tenantKeyBytes)
            records = ByteBoundedCache(maxBytes: memory.keyCacheBytes)
            credentials = ByteBoundedCache(maxBytes: memory.credentialCacheBytes)
        }
    }

    static let stripes = 256

    /// The stripe of the write counts that (tenant, name) counts in.
    static func stripe(_ tenant: String, _ name: String) -> Int {
        var h = Hasher()
        h.combine(tenant)
        h.combine(name)
        return h.finalize() & (stripes - 1)
    }

    /// The write count of (tenant, name)'s stripe.
    private func writeCount(_ tenant: String, _ name: String) -> UInt64 { state.withLock { $0.writes[Self.stripe(tenant, name)] } }

    /// A store key as a rollback mark knows it: 16 bytes of its SHA-256, held inline.
    struct MarkKey: Hashable, Sendable {
        var high: UInt64
        var low: UInt64

        init(_ storeKey: String) {
            let d = SHA.sha256(Array(storeKey.utf8))
            high = d[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
            low = d[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
        }
    }

    /// What the vault's caches and marks hold now, in bytes (each at most its bound in `memory`).
    public struct Footprint: Sendable, Hashable {
        public var records: Int
        public var credentials: Int
        public var parsedKeys: Int
        public var tenantKeys: Int
        public var rollbackMarks: Int
        /// Entries evicted from the record cache since the vault was made.
        public var recordEvictions: Int
    }

    /// What the caches and marks hold now.
    public var footprint: Footprint {
        state.withLock { s in
            Footprint(
                records: s.records.bytes, credentials: s.credentials.bytes, parsedKeys: s.parsed.bytes, tenantKeys: s.tenants.bytes,
                rollbackMarks: s.highWater.bytes, recordEvictions: s.records.evictions)
        }
    }

    /// What one tenant may hold: each refused by name when a change would pass it, so that one tenant's growth
    /// never reaches the store's bounds (a blob too large for the store channel) or another tenant.
    public struct Limits: Sendable {
        /// Keys per tenant (`tooManyKeys`).
        public var keysPerTenant = 1000
        /// Versions per key (`tooManyVersions`): rotate less often, or delete old keys.
        public var versionsPerKey = 1000
        /// Bytes of one sealed record, a key's or the tenant's key index or credential set (`recordTooLarge`).
        public var recordBytes = 256 * 1024
        public init() {}
    }

    let store: any BlobStore
    let master: MasterSecret
    let logger: Logger
    public let limits: Limits
    /// The bounds of the caches and marks (the enclave's `EnclaveMemory`).
    public let memory: EnclaveMemory
    private let state: Mutex<State>
    /// One change at a time per record in this enclave.
    private let locks = RecordLocks()

    public init(store: any BlobStore, master: MasterSecret, logger: Logger, limits: Limits = Limits(), memory: EnclaveMemory = EnclaveMemory()) {
        self.store = store
        self.master = master
        self.logger = logger
        self.limits = limits
        self.memory = memory
        state = Mutex(State(memory))
    }

    private func tenantKeys(_ tenant: String) -> TenantKeys {
        if let k = state.withLock({ $0.tenants.value(tenant) }) { return k }
        let k = TenantKeys(wrap: master.derive("tenant-wrap", [tenant]), names: master.derive("tenant-names", [tenant]))
        state.withLock { s in _ = s.tenants.insert(tenant, k, bytes: tenant.utf8.count + k.wrap.count + k.names.count + 64) }
        return k
    }

    func wrappingKey(_ tenant: String) -> [UInt8] { tenantKeys(tenant).wrap }

    func storeKey(_ tenant: String, _ name: String) -> String {
        "keys/\(tenant)/" + Hex.encode(HKDF.hmac(.sha256, key: tenantKeys(tenant).names, Array("name\u{0}\(name)".utf8)).prefix(16))
    }

    /// The store's failure as this service names it: a store the deployment log refuses keeps its own code
    /// (`storeRolledBack`, `storeRecordInvalid`); anything else is `storeUnavailable`.
    static func storeError(_ error: any Error) -> KeyServiceError {
        if let refused = error as? DeploymentLogError { return KeyServiceError(refused.code.rawValue, refused.message) }
        return KeyServiceError("storeUnavailable", "\(error)")
    }

    static func aad(_ tenant: String, _ name: String, _ version: UInt64) -> [UInt8] {
        CBOREncoder.encode(.array([.text("cloister-key/1"), .text(tenant), .text(name), .unsigned(version)]))
    }

    /// A sealed record's plaintext and store version, or nil when there is none.
    func readSealed(_ tenant: String, _ name: String) async throws(KeyServiceError) -> (plaintext: [UInt8], version: UInt64)? {
        let wrap = wrappingKey(tenant)
        let key = storeKey(tenant, name)
        // The mark as the read begins: a write of this enclave completing meanwhile must not make the version it
        // replaced, current when the read was sent, look stale.
        let seen = state.withLock { $0.highWater.value(MarkKey(key)) ?? 0 }
        let blob: (version: UInt64, value: [UInt8])?
        do { blob = try await store.get(key) } catch let refused as DeploymentLogError where refused.code == .storeRolledBack {
            // The tracker under the vault knows this record at a newer version than the host served, or at all.
            throw KeyServiceError("staleKeyBlob", refused.message)
        } catch { throw Self.storeError(error) }
        // This enclave never removes a record (a deleted key leaves a sealed empty one): a record seen and now
        // absent is the host's doing, and must not read as "no such key" (a create would make new material under
        // a name in use).
        guard let blob else {
            guard seen == 0 else { throw KeyServiceError("staleKeyBlob", "the host says a blob this enclave has seen at version \(seen) is absent") }
            return nil
        }
        guard blob.version >= seen else {
            throw KeyServiceError("staleKeyBlob", "the host served version \(blob.version) of a blob this enclave has seen at version \(seen)")
        }
        guard blob.value.count > AESGCM.nonceSize else { throw KeyServiceError("keyBlobInvalid", "a key blob is too short") }
        let plaintext: [UInt8]
        do {
            plaintext = try AESGCM.open(
                Array(blob.value.dropFirst(AESGCM.nonceSize)), key: wrap, nonce: Array(blob.value.prefix(AESGCM.nonceSize)),
                aad: Self.aad(tenant, name, blob.version))
        } catch {
            throw KeyServiceError("keyBlobInvalid", "a key blob does not open for this tenant, key and version (moved, replayed or altered)")
        }
        // Only an authenticated version raises the mark: a forged one must not make the real blob look stale.
        raiseMark(key, blob.version)
        return (plaintext, blob.version)
    }

    /// Seals `plaintext` for (tenant, name) as store version `expected + 1`; false when another write came first.
    func writeSealed(_ tenant: String, _ name: String, _ plaintext: [UInt8], expected: UInt64) async throws(KeyServiceError) -> Bool {
        try await write(tenant, name, plaintext, expected: expected) != nil
    }

    /// `writeSealed`, answering the vault's write count as this write began (nil when another write came first):
    /// what it wrote may be kept only if no other write began since.
    private func write(_ tenant: String, _ name: String, _ plaintext: [UInt8], expected: UInt64) async throws(KeyServiceError) -> UInt64? {
        // Refused here, before the store channel sees it: a blob the channel cannot carry would fail every tenant's
        // pending operation with it.
        guard plaintext.count <= limits.recordBytes else {
            throw KeyServiceError("recordTooLarge", "a sealed record of \(plaintext.count) bytes is above this deployment's \(limits.recordBytes)")
        }
        let wrap = wrappingKey(tenant)
        let key = storeKey(tenant, name)
        let stripe = Self.stripe(tenant, name)
        let ticket = state.withLock { s in
            s.writes[stripe] &+= 1
            return s.writes[stripe]
        }
        let nonce = Random.bytes(AESGCM.nonceSize)
        let sealed: [UInt8]
        do { sealed = try AESGCM.seal(plaintext, key: wrap, nonce: nonce, aad: Self.aad(tenant, name, expected + 1)) } catch {
            throw KeyServiceError("internal", "\(error)")
        }
        let result: (stored: Bool, version: UInt64)
        do { result = try await store.put(key, value: nonce + sealed, expectedVersion: expected) } catch {
            // The write may or may not have happened: forget what is kept, so the next use reads the store.
            forget(tenant, name)
            throw Self.storeError(error)
        }
        guard result.stored else {
            forget(tenant, name)
            return nil
        }
        // The blob was sealed for version expected + 1; a host that says otherwise is not believed.
        guard result.version == expected + 1 else {
            forget(tenant, name)
            throw KeyServiceError("storeUnavailable", "the host stored version \(result.version), expected \(expected + 1)")
        }
        raiseMark(key, result.version)
        return ticket
    }

    /// Raises the rollback mark of `key` to `version`. The marks are bounded (`rollbackMarkBytes`) and the least
    /// recently used go first: safe, because the store under the vault (`TrackedStore`) holds every record's
    /// version and hash and refuses an old copy whether or not a mark remains; a mark only refuses it earlier.
    private func raiseMark(_ key: String, _ version: UInt64) {
        let mark = MarkKey(key)
        state.withLock { s in
            let seen = s.highWater.peek(mark) ?? 0
            s.highWater.insert(mark, max(seen, version), bytes: 0)
        }
    }

    // MARK: Records

    static let indexName = "\u{0}index"

    /// A key's record (nil when absent or deleted) and its store version (0 when never written).
    func load(_ tenant: String, _ name: String) async throws(KeyServiceError) -> (record: KeyRecord?, version: UInt64) {
        let writes = writeCount(tenant, name)
        guard let (plaintext, version) = try await readSealed(tenant, name) else { return (nil, 0) }
        // A deleted key leaves a sealed empty record, so that its old blob cannot be served back as current.
        let record = plaintext.isEmpty ? nil : try KeyRecord(encoded: plaintext)
        remember(tenant, name, record, version, writes: writes)
        return (record, version)
    }

    /// A key's record for using it (sign, verify, encrypt, decrypt, describe). This enclave writes every record,
    /// so the one it last read or wrote is current: it is kept, and the host is not asked (nor given a chance to
    /// serve an older blob) until it changes. Changes (`update`, `delete`) always read the store.
    func record(_ tenant: String, _ name: String) async throws(KeyServiceError) -> (KeyRecord, UInt64)? {
        let key = tenant + "\u{0}" + name
        if let cached = state.withLock({ $0.records.value(key) }) { return cached.record.map { ($0, cached.version) } }
        let (record, version) = try await load(tenant, name)
        return record.map { ($0, version) }
    }

    private func forget(_ tenant: String, _ name: String) {
        state.withLock { $0.records.remove(tenant + "\u{0}" + name) }
    }

    /// Keeps a record read or written when the vault's write count was `writes`. The least recently used records go
    /// first when the cache passes `keyCacheBytes`; an evicted record is read from the store again, and checked again.
    private func remember(_ tenant: String, _ name: String, _ record: KeyRecord?, _ version: UInt64, writes: UInt64) {
        let key = tenant + "\u{0}" + name
        let bytes = key.utf8.count + (record?.footprint ?? 0)
        let stripe = Self.stripe(tenant, name)
        state.withLock { s in
            // Never replace a newer entry with an older one (concurrent readers and writers); a read that a write
            // overtook keeps nothing, since the newer entry may have been evicted already.
            if writes != s.writes[stripe] { return }
            if let known = s.records.peek(key), known.version > version { return }
            s.records.insert(key, (record, version), bytes: bytes)
        }
    }

    /// Deletes a key: a sealed empty record replaces it. False when another write came first.
    func delete(_ tenant: String, _ name: String, expected: UInt64) async throws(KeyServiceError) -> Bool {
        guard let ticket = try await write(tenant, name, [], expected: expected) else { return false }
        remember(tenant, name, nil, expected + 1, writes: ticket)
        return true
    }

    /// Applies `change` to a key's record with compare-and-swap, retrying when another write came first.
    func update(_ tenant: String, _ name: String, _ change: (KeyRecord?) throws(KeyServiceError) -> KeyRecord?) async throws(KeyServiceError) -> KeyRecord? {
        try await changing(tenant, name) { () throws(KeyServiceError) -> KeyRecord? in try await updateHeld(tenant, name, change) }
    }

    /// Runs `body`, a change of (tenant, name)'s record, while no other change of it in this enclave runs
    /// (`RecordLocks`). `body` takes no other lock (only the key index's lock comes before a key's).
    func changing<T>(_ tenant: String, _ name: String, _ body: () async throws(KeyServiceError) -> T) async throws(KeyServiceError) -> T {
        try await locks.withLock(tenant + "\u{0}" + name, body)
    }

    private func updateHeld(_ tenant: String, _ name: String, _ change: (KeyRecord?) throws(KeyServiceError) -> KeyRecord?) async throws(KeyServiceError) -> KeyRecord? {
        for _ in 0..<16 {
            let current = try await load(tenant, name)
            guard let next = try change(current.record) else { return nil }
            if let ticket = try await write(tenant, name, next.encoded, expected: current.version) {
                remember(tenant, name, next, current.version + 1, writes: ticket)
                return next
            }
        }
        throw KeyServiceError("conflict", "the key kept changing")
    }

    /// The tenant's key names.
    func names(_ tenant: String) async throws(KeyServiceError) -> ([String], UInt64) {
        guard let (plaintext, version) = try await readSealed(tenant, Self.indexName) else { return ([], 0) }
        guard let list = (try? CBORDecoder.decode(plaintext))?.array else { throw KeyServiceError("keyBlobInvalid", "the key index does not parse") }
        return (list.compactMap(\.text), version)
    }

    /// Applies `change` to the tenant's key names, holding the index's lock.
    func updateNames(_ tenant: String, _ change: ([String]) -> [String]) async throws(KeyServiceError) {
        try await changingNames(tenant) { () throws(KeyServiceError) in try await updateNamesHeld(tenant, change) }
    }

    /// Runs `body` holding the lock of the tenant's key index; `body` may take one key's lock inside it (the index's
    /// lock is always taken first), and changes the index with `updateNamesHeld`.
    func changingNames<T>(_ tenant: String, _ body: () async throws(KeyServiceError) -> T) async throws(KeyServiceError) -> T {
        try await changing(tenant, Self.indexName, body)
    }

    /// `updateNames` for a caller that holds the index's lock.
    func updateNamesHeld(_ tenant: String, _ change: ([String]) -> [String]) async throws(KeyServiceError) {
        for _ in 0..<16 {
            let (names, version) = try await self.names(tenant)
            let next = change(names)
            if next == names { return }
            if try await writeSealed(tenant, Self.indexName, CBOREncoder.encode(.array(next.map { .text($0) })), expected: version) { return }
        }
        throw KeyServiceError("conflict", "the key index kept changing")
    }

    // MARK: Credentials

    static let credentialsName = "\u{0}credentials"

    /// The tenant's credential set (nil before its first credential) and its store version. Kept once read: this
    /// enclave is its only writer, and every change goes through `updateCredentials`.
    func credentials(_ tenant: String) async throws(KeyServiceError) -> (set: CredentialSet?, version: UInt64) {
        if let cached = state.withLock({ $0.credentials.value(tenant) }) { return cached }
        let writes = writeCount(tenant, Self.credentialsName)
        guard let (plaintext, version) = try await readSealed(tenant, Self.credentialsName) else { return (nil, 0) }
        let set = try CredentialSet(encoded: plaintext)
        rememberCredentials(tenant, set, version, writes: writes)
        return (set, version)
    }

    /// Applies `change` to the tenant's credential set with compare-and-swap (reading the store again).
    func updateCredentials(_ tenant: String, _ change: (CredentialSet?) throws(KeyServiceError) -> CredentialSet) async throws(KeyServiceError) -> CredentialSet {
        try await changing(tenant, Self.credentialsName) { () throws(KeyServiceError) -> CredentialSet in try await updateCredentialsHeld(tenant, change) }
    }

    private func updateCredentialsHeld(_ tenant: String, _ change: (CredentialSet?) throws(KeyServiceError) -> CredentialSet) async throws(KeyServiceError) -> CredentialSet {
        for _ in 0..<16 {
            state.withLock { $0.credentials.remove(tenant) }
            let (current, version) = try await credentials(tenant)
            let next = try change(current)
            let ticket: UInt64?
            do { ticket = try await write(tenant, Self.credentialsName, next.encoded, expected: version) } catch {
                // The write may or may not have happened: the next use reads the store.
                state.withLock { $0.credentials.remove(tenant) }
                throw error
            }
            if let ticket {
                rememberCredentials(tenant, next, version + 1, writes: ticket)
                return next
            }
        }
        throw KeyServiceError("conflict", "the credential set kept changing")
    }

    /// Keeps a credential set as `remember` keeps a record (bounded by `credentialCacheBytes`).
    private func rememberCredentials(_ tenant: String, _ set: CredentialSet?, _ version: UInt64, writes: UInt64) {
        let bytes = tenant.utf8.count + (set?.footprint ?? 0)
        let stripe = Self.stripe(tenant, Self.credentialsName)
        state.withLock { s in
            if writes != s.writes[stripe] { return }
            if let known = s.credentials.peek(tenant), known.version > version { return }
            s.credentials.insert(tenant, (set, version), bytes: bytes)
        }
    }

    /// The parsed private key for some key material (parsing is dearer than signing, so it is kept, within
    /// `parsedKeyBytes`, the least recently used going first).
    func privateKey(_ material: [UInt8], type: KeyType) throws(KeyServiceError) -> PrivateKey {
        let id = InlineDigest(SHA.sha256(material))
        if let k = state.withLock({ $0.parsed.value(id) }) { return k }
        let k = try PrivateKey(der: material, type: type)
        state.withLock { s in _ = s.parsed.insert(id, k, bytes: k.footprint) }
        return k
    }
}
