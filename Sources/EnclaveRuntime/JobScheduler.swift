import EnclaveWire

/// The order in which the queue worker runs jobs, across pulls: jobs are admitted in the order they were pulled and
/// run concurrently, at most `maxRunning` at a time, except where their scopes say otherwise. A key's change waits
/// for every earlier unfinished use and change of that key, a key's use for the last earlier unfinished change, a
/// `tenant` job for every earlier unfinished job of its tenant, and every job for its tenant's last unfinished
/// `tenant` job. So a job on a key starts only after the earlier-pulled jobs it orders against have finished, and
/// as the worker seals outcomes in the order they finish, each key's receipt order is its execution order. Jobs
/// whose waits are over start in turn by tenant, each tenant's in the order they became ready: a tenant with
/// hundreds of jobs ready delays another tenant's next job by one of its own. A value with no I/O: the worker owns
/// it.
struct JobScheduler {
    private struct Slot {
        var tenant: String
        var scope: JobScope
        var waits: Int
        var dependents: [Int] = []
    }

    let maxRunning: Int
    /// Admitted jobs not yet finished.
    private var live: [Int: Slot] = [:]
    private var nextID = 0
    private var ready = TurnQueue<String, Int>()
    private(set) var running = 0
    // The unfinished jobs each new job may have to wait for.
    private var lastChange: [String: Int] = [:]
    private var usesSinceChange: [String: Set<Int>] = [:]
    private var sinceBarrier: [String: Set<Int>] = [:]
    private var lastBarrier: [String: Int] = [:]

    init(maxRunning: Int) {
        precondition(maxRunning >= 1)
        self.maxRunning = maxRunning
    }

    /// Jobs admitted and not finished (waiting, ready or running).
    var unfinished: Int { live.count }

    /// Admits the next job; returns its id (0, 1, 2... in admission order) and the unfinished jobs it waits for.
    @discardableResult
    mutating func admit(tenant: String, scope: JobScope) -> (id: Int, waitsFor: [Int]) {
        let i = nextID
        nextID += 1
        var deps: [Int] = []
        let barrier = lastBarrier[tenant]
        if let barrier { deps.append(barrier) }
        // Jobs before the tenant's last barrier are already waited for through it.
        func after(_ j: Int) -> Bool { barrier.map { j > $0 } ?? true }
        switch scope {
        case .independent:
            sinceBarrier[tenant, default: []].insert(i)
        case .keyUse(let name):
            let k = tenant + "\u{0}" + name
            if let j = lastChange[k], after(j) { deps.append(j) }
            usesSinceChange[k, default: []].insert(i)
            sinceBarrier[tenant, default: []].insert(i)
        case .keyChange(let name):
            let k = tenant + "\u{0}" + name
            if let j = lastChange[k], after(j) { deps.append(j) }
            deps += (usesSinceChange[k] ?? []).filter(after)
            lastChange[k] = i
            usesSinceChange[k] = nil
            sinceBarrier[tenant, default: []].insert(i)
        case .tenant:
            deps += sinceBarrier[tenant] ?? []
            lastBarrier[tenant] = i
            sinceBarrier[tenant] = nil
        }
        deps.sort()
        live[i] = Slot(tenant: tenant, scope: scope, waits: deps.count)
        for d in deps { live[d]!.dependents.append(i) }
        if deps.isEmpty { ready.push(i, owner: tenant) }
        return (i, deps)
    }

    /// The jobs to start now, tenants in turn; they count as running until `finish`.
    mutating func start() -> [Int] {
        var out: [Int] = []
        while running < maxRunning, let i = ready.pop() {
            running += 1
            out.append(i)
        }
        return out
    }

    /// A started job finished: the jobs waiting only for it become ready.
    mutating func finish(_ i: Int) {
        guard let slot = live.removeValue(forKey: i) else { preconditionFailure("job \(i) finished twice or was never admitted") }
        running -= 1
        for d in slot.dependents {
            live[d]!.waits -= 1
            if live[d]!.waits == 0 { ready.push(d, owner: live[d]!.tenant) }
        }
        // A finished job is waited for no more.
        func drop(_ set: inout [String: Set<Int>], _ key: String) {
            set[key]?.remove(i)
            if set[key]?.isEmpty == true { set[key] = nil }
        }
        drop(&sinceBarrier, slot.tenant)
        if lastBarrier[slot.tenant] == i { lastBarrier[slot.tenant] = nil }
        switch slot.scope {
        case .keyUse(let name): drop(&usesSinceChange, slot.tenant + "\u{0}" + name)
        case .keyChange(let name):
            let k = slot.tenant + "\u{0}" + name
            if lastChange[k] == i { lastChange[k] = nil }
        case .independent, .tenant: break
        }
    }
}
