import EnclaveRuntime
import EnclaveWire
import Synchronization

/// A host's store in memory, which the tests edit as a hostile host would edit its database.
public final class MemoryStore: BlobStore {
    /// `latency`: how long a request takes each way (as over the bridge), so that concurrent requests interleave.
    public init(latency: Duration = .zero) { self.latency = latency }

    public let latency: Duration
    public let blobs = Mutex<[String: (version: UInt64, value: [UInt8])]>([:])

    private func travel() async throws { if latency > .zero { try await Task.sleep(for: latency) } }

    public func get(_ key: String) async throws -> (version: UInt64, value: [UInt8])? {
        try await travel()
        let value = blobs.withLock { $0[key] }
        try await travel()
        return value
    }

    public func put(_ key: String, value: [UInt8], expectedVersion: UInt64) async throws -> (stored: Bool, version: UInt64) {
        try await travel()
        let answer = blobs.withLock { b -> (Bool, UInt64) in
            let current = b[key]?.version ?? 0
            guard current == expectedVersion else { return (false, current) }
            b[key] = (current + 1, value)
            return (true, current + 1)
        }
        try await travel()
        return answer
    }

    public func list(after: String) async throws -> (entries: [StoreEntry], more: Bool) {
        let all = blobs.withLock { $0.filter { $0.key > after }.sorted { $0.key < $1.key } }
        let page = all.prefix(3).map { StoreEntry(key: $0.key, version: $0.value.version, value: $0.value.value) }
        return (page, all.count > page.count)
    }

    public var record: DeploymentRecord? {
        get { blobs.withLock { $0[DeploymentRecord.storeKey] }.flatMap { try? DeploymentRecord(encoded: $0.value) } }
        set { blobs.withLock { $0[DeploymentRecord.storeKey] = newValue.map { (2, $0.encoded) } } }
    }
}

