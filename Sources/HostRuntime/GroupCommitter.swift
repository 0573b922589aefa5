import Dispatch
import GRDB
import Synchronization

/// Runs writes in group commits: every operation submitted while a commit is on disk joins the next one, so a
/// burst of N jobs costs one transaction and one fsync, not N. Each operation runs in its own savepoint, so one
/// that fails (a constraint, say) fails alone. A caller resumes only after its transaction is durable.
public final class GroupCommitter: Sendable {
    public typealias Operation = @Sendable (Database) throws -> any Sendable

    private struct Pending {
        var operations: [(Operation, CheckedContinuation<any Sendable, any Error>)] = []
        var running = false
        var commits: UInt64 = 0
        var operationsCommitted: UInt64 = 0
    }

    private let pool: DatabasePool
    private let state = Mutex(Pending())
    private let queue = DispatchQueue(label: "cloister.group-commit")
    /// Most operations per transaction.
    public let maxBatch: Int

    public init(pool: DatabasePool, maxBatch: Int = 1000) {
        self.pool = pool
        self.maxBatch = maxBatch
    }

    /// Runs `body` in the next group commit and returns its value once that commit is durable.
    public func run<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let value = try await withCheckedThrowingContinuation { (c: CheckedContinuation<any Sendable, any Error>) in
            let start = state.withLock { s -> Bool in
                s.operations.append(({ db in try body(db) }, c))
                if s.running { return false }
                s.running = true
                return true
            }
            if start { queue.async { self.drain() } }
        }
        return value as! T
    }

    /// Commits and operations so far (for metrics and the benchmark).
    public var counts: (commits: UInt64, operations: UInt64) { state.withLock { ($0.commits, $0.operationsCommitted) } }

    private func drain() {
        while true {
            let batch = state.withLock { s -> [(Operation, CheckedContinuation<any Sendable, any Error>)] in
                let n = min(s.operations.count, maxBatch)
                if n == 0 { s.running = false }
                let taken = Array(s.operations.prefix(n))
                s.operations.removeFirst(n)
                return taken
            }
            if batch.isEmpty { return }
            var results: [Result<any Sendable, any Error>] = []
            results.reserveCapacity(batch.count)
            do {
                try pool.write { db in
                    results.removeAll(keepingCapacity: true)
                    // Savepoints through cached statements: preparing SQL again for every operation cost more
                    // than the operations themselves.
                    let savepoint = try db.cachedStatement(sql: "SAVEPOINT operation")
                    let release = try db.cachedStatement(sql: "RELEASE SAVEPOINT operation")
                    let rollback = try db.cachedStatement(sql: "ROLLBACK TO SAVEPOINT operation")
                    for (operation, _) in batch {
                        try savepoint.execute()
                        do {
                            results.append(.success(try operation(db)))
                        } catch {
                            try rollback.execute()
                            results.append(.failure(error))
                        }
                        try release.execute()
                    }
                }
                state.withLock {
                    $0.commits += 1
                    $0.operationsCommitted += UInt64(batch.count)
                }
                for (i, (_, c)) in batch.enumerated() { c.resume(with: results[i]) }
            } catch {
                for (_, c) in batch { c.resume(throwing: error) }
            }
        }
    }
}
