import Synchronization

/// Keeps the workloads' writes out of the making of a log head. A head commits to the state root as the tracker
/// holds it and, once stored, starts the next epoch; a write that began before the root was read and was recorded
/// after it (or was tagged with the old epoch and landed after the head) would be a record the stored head does not
/// account for, and the next boot would refuse the store as rolled back. So a write runs while no head is being
/// made, and a head is made once the writes under way are answered; writes that arrive meanwhile wait for it. One
/// head at a time (the receipt chain seals one batch at a time).
final class WriteGate: Sendable {
    private struct State {
        var writers = 0
        var held = false
        var holder: CheckedContinuation<Void, Never>?
        var waitingWriters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    /// Waits while a head is being made, then counts a write under way until `leaveWrite`.
    func enterWrite() async {
        let entered = state.withLock { s -> Bool in
            guard !s.held else { return false }
            s.writers += 1
            return true
        }
        if entered { return }
        await withCheckedContinuation { c in
            let now = state.withLock { s -> Bool in
                guard s.held else {
                    s.writers += 1
                    return true
                }
                // `release` counts it as under way when it lets it go.
                s.waitingWriters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    func leaveWrite() {
        let holder = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.writers -= 1
            guard s.writers == 0, let h = s.holder else { return nil }
            s.holder = nil
            return h
        }
        holder?.resume()
    }

    /// Stops new writes and waits for those under way; `release` lets writes go again.
    func hold() async {
        await withCheckedContinuation { c in
            let now = state.withLock { s -> Bool in
                precondition(!s.held, "one head at a time")
                s.held = true
                guard s.writers > 0 else { return true }
                s.holder = c
                return false
            }
            if now { c.resume() }
        }
    }

    func release() {
        let waiting = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.held = false
            let w = s.waitingWriters
            s.waitingWriters = []
            s.writers += w.count
            return w
        }
        for c in waiting { c.resume() }
    }
}
