/// The order in which the jobs of one pull run. Jobs run concurrently except where their scopes say otherwise: a
/// key's change waits for every earlier use and change of that key, a key's use for its last earlier change, a
/// `tenant` job for every earlier job of its tenant, and every job for the last earlier `tenant` job of its tenant.
/// Receipts are numbered in the pull's order, so for each key's changes (and each tenant's credential changes)
/// receipt order is execution order.
enum PullSchedule {
    /// For each job, the indices of the earlier jobs it must wait for.
    static func dependencies(_ jobs: [(tenant: String, scope: JobScope)]) -> [[Int]] {
        var lastChange: [String: Int] = [:]
        var usesSinceChange: [String: [Int]] = [:]
        var sinceBarrier: [String: [Int]] = [:]
        var lastBarrier: [String: Int] = [:]
        var out: [[Int]] = []
        out.reserveCapacity(jobs.count)
        for (i, job) in jobs.enumerated() {
            var deps: [Int] = []
            let barrier = lastBarrier[job.tenant]
            if let barrier { deps.append(barrier) }
            // Jobs before the tenant's last barrier are already waited for through it.
            func after(_ j: Int) -> Bool { barrier.map { j > $0 } ?? true }
            switch job.scope {
            case .independent:
                break
            case .keyUse(let name):
                let k = job.tenant + "\u{0}" + name
                if let j = lastChange[k], after(j) { deps.append(j) }
                usesSinceChange[k, default: []].append(i)
            case .keyChange(let name):
                let k = job.tenant + "\u{0}" + name
                if let j = lastChange[k], after(j) { deps.append(j) }
                deps += (usesSinceChange[k] ?? []).filter(after)
                lastChange[k] = i
                usesSinceChange[k] = []
            case .tenant:
                deps += sinceBarrier[job.tenant] ?? []
                lastBarrier[job.tenant] = i
                sinceBarrier[job.tenant] = []
                out.append(deps)
                continue
            }
            sinceBarrier[job.tenant, default: []].append(i)
            out.append(deps)
        }
        return out
    }

    /// Runs `jobs` with `perform` in that order; the outcomes come back in the jobs' order.
    static func run<Outcome: Sendable>(
        _ jobs: [PreparedJob], perform: @escaping @Sendable (PreparedJob) async -> Outcome
    ) async -> [Outcome] {
        if jobs.count == 1 { return [await perform(jobs[0])] }
        let deps = dependencies(jobs.map { ($0.request.tenant, $0.scope) })
        var tasks: [Task<Outcome, Never>] = []
        tasks.reserveCapacity(jobs.count)
        for (i, job) in jobs.enumerated() {
            let waits = deps[i].map { tasks[$0] }
            tasks.append(
                Task {
                    for w in waits { _ = await w.value }
                    return await perform(job)
                })
        }
        var out: [Outcome] = []
        out.reserveCapacity(jobs.count)
        for t in tasks { out.append(await t.value) }
        return out
    }
}
