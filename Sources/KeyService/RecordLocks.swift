import Synchronization

/// One change at a time per record: a task that changes a record (read, decide, compare-and-swap) waits, in
/// arrival order, for the one before it. This enclave is its records' only writer, so with the lock its own
/// compare-and-swaps never lose to each other; the retries behind them are left for another writer of the same
/// store. Locks are made on demand and dropped when nobody holds or waits for them, so they take memory only for
/// the changes under way. Holding one lock while taking another is not done (two tasks taking two records in
/// opposite orders would wait for each other).
final class RecordLocks: Sendable {
    private struct Lock {
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    /// The records held now, with who waits for each.
    private let held = Mutex([String: Lock]())

    /// Runs `body` holding `record`'s lock.
    func withLock<T>(_ record: String, _ body: () async throws(KeyServiceError) -> T) async throws(KeyServiceError) -> T {
        await acquire(record)
        defer { release(record) }
        return try await body()
    }

    /// Records held now (for tests).
    var count: Int { held.withLock { $0.count } }

    private func acquire(_ record: String) async {
        let free = held.withLock { h -> Bool in
            guard h[record] == nil else { return false }
            h[record] = Lock()
            return true
        }
        if free { return }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = held.withLock { h -> Bool in
                // Released between the two looks: take it now.
                guard h[record] != nil else {
                    h[record] = Lock()
                    return true
                }
                h[record]!.waiting.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    /// Hands the lock to the first waiter (it holds it when it resumes), or drops it.
    private func release(_ record: String) {
        let next = held.withLock { h -> CheckedContinuation<Void, Never>? in
            guard var lock = h[record] else { preconditionFailure("released a record lock that was not held") }
            guard !lock.waiting.isEmpty else {
                h[record] = nil
                return nil
            }
            let first = lock.waiting.removeFirst()
            h[record] = lock
            return first
        }
        next?.resume()
    }
}
