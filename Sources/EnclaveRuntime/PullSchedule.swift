/// The jobs of one pull run together, as `JobScheduler` orders them, with no bound: for tests and benchmarks that
/// run a workload without the queue worker.
enum PullSchedule {
    /// For each job, the indices of the earlier jobs it must wait for (`JobScheduler`'s rules, nothing finished).
    static func dependencies(_ jobs: [(tenant: String, scope: JobScope)]) -> [[Int]] {
        var scheduler = JobScheduler(maxRunning: 1)
        return jobs.map { scheduler.admit(tenant: $0.tenant, scope: $0.scope).waitsFor }
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
