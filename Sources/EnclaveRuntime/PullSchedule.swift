/// The order in which the jobs of one pull run. Jobs run concurrently except where their scopes say otherwise: a
/// job waits for the previous job of its tenant with the same key, a `tenant` job waits for every earlier job of
/// its tenant, and every job waits for the last earlier `tenant` job of its tenant. Receipts are numbered in the
/// pull's order, so for each key (and for each tenant's credential changes) receipt order is execution order.
enum PullSchedule {
    /// For each job, the indices of the earlier jobs it must wait for.
    static func dependencies(_ jobs: [(tenant: String, scope: JobScope)]) -> [[Int]] {
        var lastOfKey: [String: Int] = [:]
        var sinceBarrier: [String: [Int]] = [:]
        var lastBarrier: [String: Int] = [:]
        var out: [[Int]] = []
        out.reserveCapacity(jobs.count)
        for (i, job) in jobs.enumerated() {
            var deps: [Int] = []
            if let b = lastBarrier[job.tenant] { deps.append(b) }
            switch job.scope {
            case .independent:
                break
            case .key(let name):
                let k = job.tenant + "\u{0}" + name
                if let j = lastOfKey[k], lastBarrier[job.tenant].map({ j > $0 }) ?? true { deps.append(j) }
                lastOfKey[k] = i
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
