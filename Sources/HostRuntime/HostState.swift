import BridgeHost
import Prometheus
import Synchronization
import VsockBridge

/// What the admin endpoints report, read from the supervisor, the pool and the listeners at request time.
public final class HostState: Sendable {
    let supervisor: Supervisor
    let pool: IngressPool
    let listeners: [IngressListener]
    let queue: JobQueue?
    let credentials: InstanceCredentialsRefresher?
    private let registry = PrometheusCollectorRegistry()
    private let mirrors = Mutex<[String: Int64]>([:])

    init(supervisor: Supervisor, pool: IngressPool, listeners: [IngressListener], queue: JobQueue? = nil, credentials: InstanceCredentialsRefresher? = nil) {
        self.supervisor = supervisor
        self.pool = pool
        self.listeners = listeners
        self.queue = queue
        self.credentials = credentials
    }

    /// Whether the enclave is up, and the health document.
    func healthJSON() -> (Bool, String) {
        let h = supervisor.snapshot
        let ago = h.lastHeartbeat.map { WallClock.monotonicMilliseconds() - $0 }
        var enclave: [(String, String)] = [
            ("state", q(h.state.rawValue)), ("reason", h.reason.map(q) ?? "null"), ("id", h.identifier.map(q) ?? "null"),
            ("launches", "\(h.launches)"), ("restarts", "\(h.restarts)"), ("heartbeats", "\(h.heartbeats)"),
            ("lastHeartbeatAgoMs", ago.map { "\($0)" } ?? "null"),
        ]
        if let s = h.status {
            enclave += [("idleTunnels", "\(s.idleTunnels)"), ("activeTunnels", "\(s.activeTunnels)"), ("uptimeMs", "\(s.uptimeMilliseconds)")]
        }
        let ls = listeners.map { l -> String in
            let c = l.snapshot
            return obj([("listen", q("\(l.host):\(l.port)")), ("enclavePort", "\(l.enclavePort)"), ("accepted", "\(c.accepted)"),
                        ("paired", "\(c.paired)"), ("refused", "\(c.refused)"), ("active", "\(c.active)")])
        }
        let ingress = obj([("idleTunnels", "\(pool.idleCount)"), ("waitingClients", "\(pool.waitingCount)"), ("listeners", "[" + ls.joined(separator: ",") + "]")])
        var parts = [("status", q(h.isHealthy ? "ok" : "degraded")), ("enclave", obj(enclave)), ("ingress", ingress)]
        if let credentials {
            let reason = credentials.failureReason
            parts.append(("awsCredentials", obj([("ok", reason == nil ? "true" : "false"), ("reason", reason.map(q) ?? "null")])))
        }
        return (h.isHealthy, obj(parts))
    }

    /// Prometheus text exposition of the host's gauges and counters.
    func metricsText() -> String {
        let h = supervisor.snapshot
        gauge("enclave", "up", "1 while the enclave says hello and heartbeats on time").set(Int64(h.isHealthy ? 1 : 0))
        mirror("enclave", "restarts", "Enclave restarts by the supervisor", Int64(h.restarts))
        mirror("enclave", "heartbeats", "Heartbeats received from the enclave", Int64(h.heartbeats))
        gauge("ingress", "idle_tunnels", "Idle reverse tunnels the enclave has dialed").set(Int64(pool.idleCount))
        gauge("ingress", "waiting_clients", "Clients waiting for a tunnel").set(Int64(pool.waitingCount))
        for l in listeners {
            let c = l.snapshot
            let labels = [("listener", "\(l.host):\(l.port)")]
            mirror("ingress", "accepted", "Client connections accepted", Int64(c.accepted), labels)
            mirror("ingress", "refused", "Clients closed without a tunnel", Int64(c.refused), labels)
            gauge("ingress", "active_connections", "Client connections open", labels).set(c.active)
        }
        if let queue {
            let q = queue.snapshot
            let c = queue.committer.counts
            gauge("queue", "waiting_jobs", "Jobs committed and waiting for the enclave").set(Int64(q.waiting))
            gauge("queue", "leased_jobs", "Jobs leased to the enclave and not yet finished").set(Int64(q.leased))
            gauge("queue", "connections", "Queue connections from the enclave").set(Int64(q.connected))
            let attestations = queue.pendingAttestations
            gauge("attestation", "waiting", "Attestation requests waiting for the enclave").set(Int64(attestations.all))
            gauge("attestation", "waiting_anonymous", "Attestation requests without a valid token waiting for the enclave").set(Int64(attestations.anonymous))
            mirror("queue", "enqueued", "Jobs committed", Int64(q.enqueued))
            mirror("queue", "completed", "Jobs finished with a signed response stored", Int64(q.completed))
            mirror("queue", "repeated", "Requests answered from an earlier job with the same request id", Int64(q.repeated))
            mirror("queue", "leases_expired", "Leases that ran out (the job was queued again)", Int64(q.expired))
            mirror("db", "commits", "Group commits (transactions) written", Int64(c.commits))
            mirror("db", "operations", "Operations written in group commits", Int64(c.operations))
        }
        return registry.emitToString()
    }

    /// Brings a Prometheus counter up to a value counted elsewhere.
    private func mirror(_ subsystem: String, _ name: String, _ help: String, _ value: Int64, _ labels: [(String, String)] = []) {
        let key = subsystem + name + labels.map { "\($0.0)=\($0.1)" }.joined()
        let delta = mirrors.withLock { m -> Int64 in
            let d = value - (m[key] ?? 0)
            m[key] = value
            return d
        }
        let descriptor = MetricNameDescriptor(namespace: "cloister", subsystem: subsystem, metricName: name, unitName: "total", helpText: help)
        let counter = registry.makeCounter(descriptor: descriptor, labels: labels)
        if delta > 0 { counter.increment(by: delta) }
    }

    private func gauge(_ subsystem: String, _ name: String, _ help: String, _ labels: [(String, String)] = []) -> Gauge {
        registry.makeGauge(
            descriptor: MetricNameDescriptor(namespace: "cloister", subsystem: subsystem, metricName: name, unitName: "", helpText: help),
            labels: labels)
    }

    private func q(_ s: String) -> String { "\"" + JSONLine.escape(s) + "\"" }
    private func obj(_ fields: [(String, String)]) -> String {
        "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }
}
