import EnclaveWire
import Logging
import NitroAttestation

/// One job as a workload sees it, after the enclave computed its request hash.
public struct JobRequest: Sendable {
    public var requestID: String
    public var tenant: String
    public var operation: String
    public var body: [UInt8]

    public init(requestID: String, tenant: String, operation: String, body: [UInt8]) {
        self.requestID = requestID
        self.tenant = tenant
        self.operation = operation
        self.body = body
    }
}

/// What a workload answers: `ok` and the result bytes, or an error code (`RequestLimits.isValidStatus`) and a
/// message as the result. Either way the enclave signs and receipts it, with the tenant's root and the approving
/// credentials when the workload names them.
public struct JobOutcome: Sendable, Hashable {
    public var status: String
    public var result: [UInt8]
    /// The id of the credential the tenant came into being with (receipt field `troot`).
    public var tenantRoot: [UInt8]?
    /// The ids of the credentials that approved the action, distinct, in order (receipt field `by`).
    public var approvers: [[UInt8]]?

    public init(status: String, result: [UInt8], tenantRoot: [UInt8]? = nil, approvers: [[UInt8]]? = nil) {
        self.status = status
        self.result = result
        self.tenantRoot = tenantRoot
        self.approvers = approvers
    }

    public static func ok(_ result: [UInt8]) -> JobOutcome { JobOutcome(status: "ok", result: result) }
    public static func failure(_ code: String, _ message: String) -> JobOutcome { JobOutcome(status: code, result: Array(message.utf8)) }
}

/// What a job touches, so that the jobs of one pull run concurrently where they may and in order where they must: a
/// change of one of a tenant's keys runs after every earlier job that uses or changes that key, and a use runs
/// after the last earlier change (so receipt order is execution order for each key's changes); a `tenant` job runs
/// after every earlier job of its tenant and before every later one.
public enum JobScope: Sendable, Hashable {
    /// Touches nothing another job orders against (probes).
    case independent
    /// Uses one of the tenant's keys (by name) without changing it: uses run concurrently with each other.
    case keyUse(String)
    /// Changes one of the tenant's keys (by name).
    case keyChange(String)
    /// Changes what every job of the tenant depends on (its credentials).
    case tenant
}

/// A job after its workload read it (opened what is sealed, checked what needs no state) and before it runs.
public struct PreparedJob: Sendable {
    public var request: JobRequest
    public var scope: JobScope
    /// What the workload kept from preparing, for `perform`.
    public var state: (any Sendable)?

    public init(request: JobRequest, scope: JobScope = .independent, state: (any Sendable)? = nil) {
        self.request = request
        self.scope = scope
        self.state = state
    }
}

/// A workload of the request path: it runs inside the enclave on jobs pulled from the host's queue, and may
/// keep state in the host's store (which sees only what the workload chooses to give it).
public protocol JobWorkload: Sendable {
    var name: String { get }
    /// Reads a job before any job of its pull runs; every job of a pull is prepared concurrently. The default
    /// keeps the request as it is, scoped `independent`.
    func prepare(_ job: JobRequest) async -> PreparedJob
    /// Performs one prepared job. A job may be delivered more than once (a lease ran out, the enclave restarted);
    /// within a boot the enclave answers a repeat from memory while it is remembered (a byte budget), so `perform`
    /// usually sees a request id once per boot, and must make a second run harmless when it does not.
    func perform(_ job: PreparedJob, store: BlobStore) async -> JobOutcome
}

extension JobWorkload {
    public func prepare(_ job: JobRequest) async -> PreparedJob { PreparedJob(request: job) }
}

/// What a job workload may use: the boot's identity, the host's store, and the deployment's master secret (for
/// workloads registered with `needsMaster`).
public struct JobWorkloadContext: Sendable {
    public var identity: EnclaveIdentity
    public var store: any BlobStore
    public var master: MasterSecret?
    public var logger: Logger
    /// The enclave's memory bounds, for what the workload keeps.
    public var memory = EnclaveMemory()
}

/// A job workload a build offers beyond the built-in ones: whether it needs the deployment's master secret (the
/// enclave then holds it, with its genesis verified, before it takes its boot attestation or serves anything), and
/// how to make it once the enclave has booted.
public struct JobWorkloadRegistration: Sendable {
    public var needsMaster: Bool
    public var make: @Sendable (JobWorkloadContext) throws -> any JobWorkload

    public init(needsMaster: Bool, make: @escaping @Sendable (JobWorkloadContext) throws -> any JobWorkload) {
        self.needsMaster = needsMaster
        self.make = make
    }
}

/// The job workloads built into the runtime, by the name a manifest's `api.workload` gives.
public enum JobWorkloads {
    public static let names = ["test"]

    public static func named(_ name: String) -> (any JobWorkload)? {
        switch name {
        case "test": TestJobWorkload()
        default: nil
        }
    }
}

/// The runtime's test workload: `echo` returns the body, `sha256` its digest in hex, `sleep` waits the
/// milliseconds the body names (at most 5000) and returns the body, `counter` increments a per-tenant counter
/// kept in the host's store with compare-and-swap and returns the new value, and `fail` always fails.
public struct TestJobWorkload: JobWorkload {
    public let name = "test"

    public init() {}

    public func perform(_ prepared: PreparedJob, store: BlobStore) async -> JobOutcome {
        let job = prepared.request
        switch job.operation {
        case "echo":
            return .ok(job.body)
        case "sha256":
            return .ok(Array(Hex.encode(SHA.sha256(job.body)).utf8))
        case "sleep":
            guard let ms = UInt64(String(decoding: job.body, as: UTF8.self)), ms <= 5000 else {
                return .failure("badRequest", "sleep wants a decimal number of milliseconds, at most 5000")
            }
            try? await Task.sleep(nanoseconds: ms * 1_000_000)
            return .ok(job.body)
        case "counter":
            return await increment(key: "counter/" + job.tenant, store: store)
        case "fail":
            return .failure("testFailure", "the fail operation always fails")
        default:
            return .failure("unknownOperation", "the test workload has echo, sha256, sleep, counter and fail")
        }
    }

    private func increment(key: String, store: BlobStore) async -> JobOutcome {
        for _ in 0..<16 {
            do {
                let current = try await store.get(key)
                let value = current.map { UInt64(String(decoding: $0.value, as: UTF8.self)) ?? 0 } ?? 0
                let next = Array(String(value + 1).utf8)
                if try await store.put(key, value: next, expectedVersion: current?.version ?? 0).stored {
                    return .ok(next)
                }
            } catch {
                return .failure("storeUnavailable", "\(error)")
            }
        }
        return .failure("conflict", "the counter kept changing under 16 attempts")
    }
}
