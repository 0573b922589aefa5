/// The enclave's memory bounds, in bytes: one for every structure that grows with tenant input or with time
/// (docs/threat-model.md, "Memory"). Caches evict what was used least recently; the structures a guarantee rests
/// on (the store index, the action ledger) refuse the new record or action by name instead of forgetting.
///
/// The enclave reads them from its environment (`CLOISTER_<NAME>`, a decimal number of bytes): on Nitro the
/// image's environment, which PCR2 measures; in emulation the host's, which the child enclave inherits.
public struct EnclaveMemory: Sendable, Hashable {
    /// Key records kept after a read or write (`CLOISTER_KEY_CACHE_BYTES`).
    public var keyCacheBytes = 32 << 20
    /// Tenants' credential sets kept after a read or write (`CLOISTER_CREDENTIAL_CACHE_BYTES`).
    public var credentialCacheBytes = 8 << 20
    /// Private keys kept parsed (`CLOISTER_PARSED_KEY_BYTES`).
    public var parsedKeyBytes = 16 << 20
    /// Tenants' derived wrapping and naming keys (`CLOISTER_TENANT_KEY_BYTES`).
    public var tenantKeyBytes = 2 << 20
    /// The key vault's within-boot rollback marks (`CLOISTER_ROLLBACK_MARK_BYTES`).
    public var rollbackMarkBytes = 8 << 20
    /// The store index: every workload record's key, version and hash (`CLOISTER_STORE_INDEX_BYTES`). Full, a new
    /// record is refused (`storeIndexFull`); records already known can still change.
    public var storeIndexBytes = 64 << 20
    /// Unexpired actions remembered so that each runs once (`CLOISTER_ACTION_LEDGER_BYTES`). Full, a new action is
    /// refused (`busy`) until older ones expire.
    public var actionLedgerBytes = 32 << 20
    /// Signed answers remembered for repeated deliveries, the oldest forgotten first (`CLOISTER_ANSWER_BYTES`; the
    /// queue worker's `rememberedBytes`).
    public var answerBytes = 32 << 20

    /// Least any bound may be: room for a few entries.
    public static let minimumBytes = 4096

    public init() {}

    /// Each bound's environment variable and its field.
    public static var variables: [(name: String, field: WritableKeyPath<EnclaveMemory, Int>)] {
        [
            ("CLOISTER_KEY_CACHE_BYTES", \.keyCacheBytes), ("CLOISTER_CREDENTIAL_CACHE_BYTES", \.credentialCacheBytes),
            ("CLOISTER_PARSED_KEY_BYTES", \.parsedKeyBytes), ("CLOISTER_TENANT_KEY_BYTES", \.tenantKeyBytes),
            ("CLOISTER_ROLLBACK_MARK_BYTES", \.rollbackMarkBytes), ("CLOISTER_STORE_INDEX_BYTES", \.storeIndexBytes),
            ("CLOISTER_ACTION_LEDGER_BYTES", \.actionLedgerBytes), ("CLOISTER_ANSWER_BYTES", \.answerBytes),
        ]
    }

    /// The defaults, with each bound `environment` names in its place.
    public init(environment: [String: String]) throws(EnclaveMemory.Error) {
        for (name, field) in Self.variables {
            guard let text = environment[name] else { continue }
            guard let value = Int(text), value >= Self.minimumBytes else {
                throw Error(variable: name, reason: "must be a whole number of bytes, at least \(Self.minimumBytes)")
            }
            self[keyPath: field] = value
        }
    }

    /// Checks that every bound has room for a few entries.
    public func validate() throws(EnclaveMemory.Error) {
        for (name, field) in Self.variables where self[keyPath: field] < Self.minimumBytes {
            throw Error(variable: name, reason: "must be at least \(Self.minimumBytes) bytes")
        }
    }

    /// A bound that cannot be used.
    public struct Error: Swift.Error, Hashable, Sendable, CustomStringConvertible {
        public let variable: String
        public let reason: String
        public var description: String { "\(variable): \(reason)" }
    }
}
