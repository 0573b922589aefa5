import EnclaveWire
import NitroAttestation
import SecureModule
import Synchronization

/// The workloads' view of the host's store, checked against the deployment log. Every record a workload writes
/// carries a tag (HMAC under a key derived from the master) over its key, version, the log size it was written
/// at (its epoch), the record it replaces as of the last head, and its contents; the tracker keeps each record's
/// version and hash and an incremental digest (`StateDigest`) of them all, which each log head commits to
/// (`cloister-state` line). At boot every record is read once and the digest of the state as of the stored head
/// must be that head's; afterwards a read must return exactly the version and contents the tracker holds. A host
/// that serves an old copy of any record, or of the whole store with a newer head kept, is refused by name.
///
/// Records written after the last stored head (by a batch whose head was never stored: the enclave stopped in
/// between) carry the head's size as their epoch and name what they replaced; the next boot takes them as
/// they are, checks what they replaced against the head, and the next head commits to them.
public final class TrackedStore: BlobStore {
    struct Entry: Sendable, Equatable {
        var version: UInt64
        var hash: InlineDigest

        init(version: UInt64, hash: [UInt8]) {
            self.version = version
            self.hash = InlineDigest(hash)
        }
    }

    /// What the index holds for each record beyond its key's bytes: the entry (version and hash, inline), the
    /// key's string storage and the hash table's slot and slack.
    static let entryOverhead = 2 * MemoryLayout<Entry>.stride + 2 * MemoryLayout<String>.stride + 32

    /// The bytes `key`'s record takes in the index.
    static func indexBytes(_ key: String) -> Int { key.utf8.count + entryOverhead }

    struct Header {
        static let size = 4 + 8 + 8 + 32 + 32
        static let magic: [UInt8] = Array("cst1".utf8)
        var epoch: UInt64
        var previous: Entry?
        var tag: [UInt8]

        init(epoch: UInt64, previous: Entry?, tag: [UInt8]) {
            self.epoch = epoch
            self.previous = previous
            self.tag = tag
        }

        init?(_ value: [UInt8]) {
            guard value.count >= Self.size, Array(value.prefix(4)) == Self.magic else { return nil }
            epoch = Self.uint64(value, 4)
            let version = Self.uint64(value, 12)
            let hash = Array(value[20..<52])
            previous = version == 0 ? nil : Entry(version: version, hash: hash)
            tag = Array(value[52..<84])
            guard previous != nil || hash.allSatisfy({ $0 == 0 }) else { return nil }
        }

        var bytes: [UInt8] {
            Self.magic + Self.be(epoch) + Self.be(previous?.version ?? 0) + (previous?.hash.bytes ?? [UInt8](repeating: 0, count: 32)) + tag
        }

        static func be(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * $0)) } }
        static func uint64(_ b: [UInt8], _ at: Int) -> UInt64 { b[at..<at + 8].reduce(0) { $0 << 8 | UInt64($1) } }
    }

    private struct State {
        var entries: [String: Entry] = [:]
        /// Each record written since the last stored head, as that head knew it (nil: absent then).
        var sinceHead: [String: Entry?] = [:]
        var digest = StateDigest()
        /// The size of the newest stored head: the epoch of what is written now.
        var epoch: UInt64 = 0
        /// Records whose last write may or may not have happened (the store did not answer).
        var uncertain: Set<String> = []
        /// Writes sent and not yet answered: a read in the meantime may already see them.
        /// (Concurrent jobs may send several writes of one record; the host takes one of them.)
        var inFlight: [String: [Entry]] = [:]
        /// Bytes the index takes (`indexBytes` of each entry).
        var indexBytes = 0
        /// Bytes set aside for new records whose first write is on its way.
        var reservedBytes = 0
    }

    /// Whether `key` is a workload record the tracker covers (the log head, the master's records and the witnesses'
    /// cosignatures have their own checks).
    public static func isTracked(_ key: String) -> Bool {
        !(key.hasPrefix("master/") || key.hasPrefix("log/") || key.hasPrefix("witness/"))
    }

    /// The bytes the tracker puts before each record's contents: magic, epoch, replaced version and hash, tag.
    public static let headerSize = Header.size

    private let inner: any BlobStore
    private let tagKey: [UInt8]
    private let state = Mutex(State())
    /// Writes wait while a head is made (`WriteGate`).
    let gate = WriteGate()
    /// Most bytes the index may take. Every entry is needed to detect a rollback of its record, so none is ever
    /// evicted: when a new record would pass the bound, its write is refused (`storeIndexFull`), and records
    /// already known can still change. (The index loaded at boot is kept whole, even past the bound.)
    public let maxIndexBytes: Int

    init(inner: any BlobStore, master: MasterSecret, maxIndexBytes: Int = EnclaveMemory().storeIndexBytes) {
        self.inner = inner
        self.maxIndexBytes = maxIndexBytes
        tagKey = master.derive("store-state", [])
    }

    /// Bytes the index takes now.
    public var indexBytes: Int { state.withLock { $0.indexBytes } }

    /// Records the index holds.
    public var count: Int { state.withLock { $0.entries.count } }

    private func tag(key: String, version: UInt64, epoch: UInt64, previous: Entry?, contents: ArraySlice<UInt8>) -> [UInt8] {
        let header = Header(epoch: epoch, previous: previous, tag: []).bytes
        return HKDF.hmac(.sha256, key: tagKey, Array(key.utf8) + [0] + Header.be(version) + header + SHA.sha256(Array(contents)))
    }

    /// The header of `value` stored as `version` of `key`, if this enclave wrote it.
    private func header(key: String, version: UInt64, value: [UInt8]) -> Header? {
        guard let h = Header(value) else { return nil }
        let expected = tag(key: key, version: version, epoch: h.epoch, previous: h.previous, contents: value[Header.size...])
        return ConstantTime.equal(expected, h.tag) ? h : nil
    }

    // MARK: Boot

    /// Reads every record and checks the state as of the stored head against the root that head carries
    /// (`headSize` 0: the empty log, whose state is empty; `root` nil with a non-empty log: a head of a build before
    /// state roots, whose state is taken as found). After this, the tracker answers for every workload record.
    /// Returns how many records were not this deployment's (left out).
    @discardableResult
    func load(headSize: UInt64, root: [UInt8]?) async throws -> Int {
        var foreign = 0
        var entries: [String: Entry] = [:]
        var sinceHead: [String: Entry?] = [:]
        var atHead = StateDigest()
        var now = StateDigest()
        var pending: DeploymentLogError?
        try await inner.forEachPage { page in
            for e in page where Self.isTracked(e.key) && pending == nil {
                // Not this deployment's (another deployment's record, or an edit): no head of ours committed to it,
                // so it is left out; were it one of ours, the state below would not match. Reading it fails.
                guard let h = header(key: e.key, version: e.version, value: e.value) else {
                    foreign += 1
                    continue
                }
                let entry = Entry(version: e.version, hash: SHA.sha256(e.value))
                entries[e.key] = entry
                now.add(key: e.key, version: entry.version, hash: entry.hash.bytes)
                if h.epoch < headSize {
                    atHead.add(key: e.key, version: entry.version, hash: entry.hash.bytes)
                } else if h.epoch == headSize {
                    // Written after the stored head by a batch that did not finish: the head knew what it replaced.
                    sinceHead[e.key] = h.previous
                    if let p = h.previous { atHead.add(key: e.key, version: p.version, hash: p.hash.bytes) }
                } else {
                    pending = DeploymentLogError(
                        .storeRolledBack, "record \(e.key) was written at log size \(h.epoch), after the stored head (size \(headSize)): the head is older than the store")
                    return
                }
            }
        }
        if let pending { throw pending }
        if headSize == 0 || root != nil {
            let expected = root ?? StateDigest().root
            guard atHead.root == expected else {
                throw DeploymentLogError(
                    .storeRolledBack, "the store's \(entries.count) records are not the state the log head of size \(headSize) committed to (an old copy of some record?)")
            }
        }
        let bytes = entries.keys.reduce(0) { $0 + Self.indexBytes($1) }
        state.withLock { s in
            s.entries = entries
            s.indexBytes = bytes
            s.sinceHead = sinceHead
            s.digest = now
            s.epoch = headSize
        }
        return foreign
    }

    // MARK: Heads

    /// The root of the state as it is now, for the head about to be signed: records whose write went unanswered
    /// are read first, so that the root is of what the store holds. The caller holds `gate` from before this until
    /// the head is stored (`headStored`) or given up.
    func currentRoot() async throws -> [UInt8] {
        for key in state.withLock({ $0.uncertain }) { _ = try await get(key) }
        return state.withLock { $0.digest.root }
    }

    /// The head of size `size` is stored: what is written from now on belongs to the next one.
    func headStored(size: UInt64) {
        state.withLock { s in
            s.epoch = size
            s.sinceHead.removeAll()
        }
    }

    // MARK: BlobStore

    public func get(_ key: String) async throws -> (version: UInt64, value: [UInt8])? {
        guard Self.isTracked(key) else { return try await inner.get(key) }
        // What was current when the read began: a write of this enclave may complete while the answer is on its way
        // (concurrent jobs change one tenant's key index), and the read then returns what it replaced.
        let before = state.withLock { $0.entries[key] }
        let stored = try await inner.get(key)
        let (known, uncertain) = state.withLock { ($0.entries[key], $0.uncertain.contains(key)) }
        guard let stored else {
            if before == nil, known != nil { return nil }
            if let known { throw DeploymentLogError(.storeRolledBack, "record \(key) is absent, but this enclave knows it at version \(known.version)") }
            state.withLock { _ = $0.uncertain.remove(key) }
            return nil
        }
        guard let h = header(key: key, version: stored.version, value: stored.value) else {
            throw DeploymentLogError(.storeRecordInvalid, "record \(key) (version \(stored.version)) was not written by this deployment's enclave for this key and version")
        }
        let entry = Entry(version: stored.version, hash: SHA.sha256(stored.value))
        if entry != known, entry == before { return (stored.version, Array(stored.value[Header.size...])) }
        if entry != known, state.withLock({ $0.inFlight[key]?.contains(entry) == true }) {
            // A write of this enclave that the host stored and has not answered yet: the put records it.
            return (stored.version, Array(stored.value[Header.size...]))
        }
        if entry != known {
            // Only the one write that went unanswered may have happened since.
            let epoch = state.withLock { $0.epoch }
            guard uncertain, stored.version == (known?.version ?? 0) + 1, h.epoch == epoch else {
                throw DeploymentLogError(
                    .storeRolledBack, "record \(key): the host served version \(stored.version), this enclave knows version \(known?.version ?? 0)")
            }
            state.withLock { s in record(&s, key: key, old: known, new: entry) }
        }
        state.withLock { _ = $0.uncertain.remove(key) }
        return (stored.version, Array(stored.value[Header.size...]))
    }

    public func put(_ key: String, value: [UInt8], expectedVersion: UInt64) async throws -> (stored: Bool, version: UInt64) {
        precondition(Self.isTracked(key), "workloads write workload records only")
        await gate.enterWrite()
        defer { gate.leaveWrite() }
        if state.withLock({ $0.uncertain.contains(key) }) { _ = try await get(key) }
        let (known, previous, epoch) = state.withLock { s in (s.entries[key], s.sinceHead[key] ?? s.entries[key], s.epoch) }
        // The tracker knows the current version: a write that expects another would fail at an honest host.
        guard expectedVersion == (known?.version ?? 0) else { return (false, known?.version ?? 0) }
        let reserved = known == nil ? try reserve(key) : 0
        defer { if reserved > 0 { state.withLock { $0.reservedBytes -= reserved } } }
        let version = expectedVersion + 1
        let header = Header(epoch: epoch, previous: previous, tag: tag(key: key, version: version, epoch: epoch, previous: previous, contents: value[...]))
        let stored = header.bytes + value
        let answer: (stored: Bool, version: UInt64)
        let sent = Entry(version: version, hash: SHA.sha256(stored))
        state.withLock { $0.inFlight[key, default: []].append(sent) }
        defer {
            state.withLock { s in
                if let i = s.inFlight[key]?.firstIndex(of: sent) { s.inFlight[key]!.remove(at: i) }
                if s.inFlight[key]?.isEmpty == true { s.inFlight.removeValue(forKey: key) }
            }
        }
        do { answer = try await inner.put(key, value: stored, expectedVersion: expectedVersion) } catch {
            state.withLock { _ = $0.uncertain.insert(key) }
            throw error
        }
        guard answer.stored else { return answer }
        guard answer.version == version else {
            state.withLock { _ = $0.uncertain.insert(key) }
            throw DeploymentLogError(.storeRolledBack, "the host stored \(key) as version \(answer.version), not \(version)")
        }
        state.withLock { s in record(&s, key: key, old: s.entries[key], new: Entry(version: version, hash: SHA.sha256(stored))) }
        return answer
    }

    public func list(after: String) async throws -> (entries: [StoreEntry], more: Bool) {
        throw StoreError(code: "notSupported")
    }

    /// Sets aside the index bytes of a new record for its first write, or refuses it when the index is full.
    private func reserve(_ key: String) throws(DeploymentLogError) -> Int {
        let cost = Self.indexBytes(key)
        let room = state.withLock { s -> Bool in
            guard s.indexBytes + s.reservedBytes + cost <= maxIndexBytes else { return false }
            s.reservedBytes += cost
            return true
        }
        guard room else {
            throw DeploymentLogError(
                .storeIndexFull, "the store index holds \(indexBytes) of its \(maxIndexBytes) bytes: this enclave takes no new record (records it knows can still change)")
        }
        return cost
    }

    private func record(_ s: inout State, key: String, old: Entry?, new: Entry) {
        if s.sinceHead[key] == nil { s.sinceHead[key] = .some(old) }
        if let old { s.digest.remove(key: key, version: old.version, hash: old.hash.bytes) }
        s.digest.add(key: key, version: new.version, hash: new.hash.bytes)
        if s.entries.updateValue(new, forKey: key) == nil { s.indexBytes += Self.indexBytes(key) }
    }
}
