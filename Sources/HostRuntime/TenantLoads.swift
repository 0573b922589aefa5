
/// What one tenant has submitted and not yet seen finished (or is committing now).
public struct TenantLoad: Sendable, Hashable {
    public var jobs = 0
    public var bytes = 0
}

/// The per-tenant side of `JobQueue`'s room: each tenant's unfinished jobs and their body bytes, counted from the
/// moment a job is let in (before its commit, so that concurrent submissions cannot all pass one check) until it
/// finishes or its commit fails. The queue holds it under its lock.
struct TenantLoads: Sendable {
    private var byTenant: [String: TenantLoad] = [:]
    /// Jobs let in and still being committed (counted in `byTenant` already).
    private var committing = 0

    subscript(tenant: String) -> TenantLoad { byTenant[tenant] ?? TenantLoad() }

    /// A job read back from the database, or one whose commit is done and stays counted.
    mutating func queued(tenant: String, bytes: Int) {
        byTenant[tenant, default: TenantLoad()].jobs += 1
        byTenant[tenant, default: TenantLoad()].bytes += bytes
    }

    /// Lets a job in and counts it, or says which limit it would pass. `depth`: jobs waiting or leased.
    mutating func reserve(tenant: String, bytes: Int, depth: Int, _ c: JobQueue.Configuration) -> APIError? {
        let all = depth + committing
        guard all < c.maxQueued else { return APIError(503, "queueFull", "\(all) jobs are waiting; try again later", retryAfter: 1) }
        let load = self[tenant]
        guard load.jobs < c.maxQueuedPerTenant else {
            return APIError(429, "tenantQueueFull", "this tenant has \(load.jobs) unfinished jobs, its limit; try again later", retryAfter: 1)
        }
        guard load.bytes + bytes <= c.maxBytesPerTenant else {
            return APIError(
                429, "tenantBytesInFlight",
                "this tenant's unfinished jobs hold \(load.bytes) bytes; \(bytes) more would pass its limit of \(c.maxBytesPerTenant)", retryAfter: 1)
        }
        queued(tenant: tenant, bytes: bytes)
        committing += 1
        return nil
    }

    /// A reserved job is committed and queued: it stays counted until it finishes.
    mutating func committed() { committing -= 1 }

    /// A reserved job was not queued (it was there before, or its commit failed).
    mutating func released(tenant: String, bytes: Int) {
        committing -= 1
        finished(tenant: tenant, bytes: bytes)
    }

    /// A counted job finished.
    mutating func finished(tenant: String, bytes: Int) {
        guard var load = byTenant[tenant] else { return }
        load.jobs -= 1
        load.bytes -= bytes
        byTenant[tenant] = load.jobs > 0 ? load : nil
    }
}
