import BridgeHost
import EmulatedKMS
import EnclaveWire
import Foundation
import Logging
import NIOCore
import NitroAttestation
import NIOPosix
import ServiceLifecycle
import VsockBridge

/// The whole host: the bridge listener, the supervisor and its launcher, the ingress listeners, the admin listener
/// and, with the manifest's `api` section, the public API over the SQLite queue (and in emulation the sealing
/// service), run as one `ServiceGroup`. On SIGTERM or SIGINT the services stop in the reverse of that order
/// (the API first, then ingress draining up to `drainMs`, admin, the enclave, the bridge); then it exits 0.
/// Every acknowledged job is already on disk, so stopping loses none.
public struct HostService: Sendable {
    /// What the host needs to start.
    public struct Configuration: Sendable {
        public var manifest: DeploymentManifest
        public var bridge: BridgeAddress
        public var launcher: any EnclaveLauncher
        public var egressResolver: any EgressResolver = TTLResolver()
        /// The roots the enclave's attestation documents are checked against (AWS's on Nitro, the emulated root in
        /// emulation): every bridge connection must prove a boot under them (`BridgeAuthenticator`). Clients verify
        /// for themselves; this keeps other processes on this machine off the bridge.
        public var attestationRoots: TrustedRoots = .aws
        /// The builds (PCR sets) whose boots may use the bridge; empty: any build under `attestationRoots`.
        public var bridgeBuilds: [[Int: [UInt8]]] = []
        /// The SQLite file of the request path (queue, receipts, store, tokens); needed when the manifest has `api`.
        public var databasePath: String?
        /// Where the instance role's AWS credentials come from (IMDSv2 on Nitro, the emulated role in emulation);
        /// the host refreshes them before they expire and hands them to the enclave on its `credentials` channel.
        /// Nil: no credentials channel.
        public var credentialsSource: (any InstanceCredentialsSource)?
        public var credentialsRefresh = InstanceCredentialsRefresher.Configuration()
        /// Emulation only: the emulated KMS, which the enclave's egress to the manifest's KMS endpoint reaches.
        public var emulatedKMS: EmulatedKMSServer?
        /// The administrator's bearer token (creates tenants and tokens); nil: admin routes answer 403.
        public var adminToken: String?

        public init(manifest: DeploymentManifest, bridge: BridgeAddress, launcher: any EnclaveLauncher) {
            self.manifest = manifest
            self.bridge = bridge
            self.launcher = launcher
        }
    }

    public let configuration: Configuration
    let logger: Logger
    let sink: LineSink

    public init(configuration: Configuration, logger: Logger, sink: LineSink = .standardOutput) {
        self.configuration = configuration
        self.logger = logger
        self.sink = sink
    }

    public func run() async throws {
        let m = configuration.manifest
        let logger = self.logger
        let configuration = self.configuration
        let group = MultiThreadedEventLoopGroup.singleton
        let pool = IngressPool()
        let supervisor = Supervisor(launcher: configuration.launcher, timing: .init(m), logger: logger)
        var resolver = configuration.egressResolver
        var kmsRoute: EmulatedKMSRoute?
        if configuration.emulatedKMS != nil, let kms = m.effectiveKMS(emulated: true) {
            let route = EmulatedKMSRoute(endpointHost: kms.endpointHost, endpointPort: kms.endpointPort, fallback: resolver)
            resolver = route
            kmsRoute = route
        }
        var bridgeConfiguration = BridgeServer.Configuration(
            address: configuration.bridge,
            egress: .init(allowlist: m.egressDestinations(emulated: configuration.emulatedKMS != nil), resolver: resolver),
            authenticator: BridgeAuthenticator(roots: configuration.attestationRoots, builds: configuration.bridgeBuilds))
        bridgeConfiguration.maxFrameSize = m.bridge.maxFrameBytes
        let sink = self.sink
        let requestPath = try RequestPath.open(configuration, group: group, logger: logger)
        if let requestPath {
            let maxFrame = m.bridge.maxFrameBytes
            bridgeConfiguration.services[.queue] = { peer in
                QueueChannelHandler(queue: requestPath.queue, identity: peer.key, maxFrameSize: maxFrame, logger: logger)
            }
            bridgeConfiguration.services[.store] = { _ in
                StoreChannelHandler(
                    database: requestPath.queue.database, committer: requestPath.queue.committer, maxFrameSize: maxFrame, logger: logger)
            }
        }
        var refresher: InstanceCredentialsRefresher?
        if let source = configuration.credentialsSource {
            let r = try InstanceCredentialsRefresher(source: source, configuration: configuration.credentialsRefresh, logger: logger)
            bridgeConfiguration.services[.credentials] = { _ in CredentialsChannelHandler(refresher: r, logger: logger) }
            refresher = r
        }
        let bridge = BridgeServer(
            configuration: bridgeConfiguration, group: group, pool: pool, logger: logger,
            onControl: { [roots = configuration.attestationRoots] event in
                if case .hello(_, let document?) = event {
                    Self.logAttestation(document, roots: roots, logger: logger)
                    requestPath?.recordBoot(document)
                }
                supervisor.receive(event)
            },
            onLog: { sink.write(JSONLine.make(enclave: $0)) })
        let listeners = m.ingress.map {
            IngressListener(
                host: $0.listenHost, port: $0.listenPort, enclavePort: $0.enclavePort, hold: .milliseconds(Int64(m.host.ingressHoldMs)),
                pool: pool, group: group, logger: logger)
        }
        let state = HostState(supervisor: supervisor, pool: pool, listeners: listeners, queue: requestPath?.queue, credentials: refresher)
        let admin = AdminServer(host: m.host.adminHost, port: m.host.adminPort, state: state, logger: logger)

        let bridgeService = LifecycleService(
            start: {
                do { try await bridge.start() } catch {
                    throw HostStartError("cannot listen on the bridge address \(configuration.bridge): \(error)")
                }
                logger.info("bridge listening", metadata: ["address": "\(configuration.bridge)"])
            },
            stop: {
                // The supervisor has stopped the enclave by now; its last log lines may still be on their way.
                await bridge.drainLogs(within: .seconds(2))
                await bridge.stop()
            })
        let drain = TimeAmount.milliseconds(Int64(m.host.drainMs))
        let ingressService = LifecycleService(
            start: {
                for l in listeners {
                    do { try await l.start() } catch {
                        throw HostStartError("cannot listen on the ingress address \(l.host):\(l.port): \(error)")
                    }
                    logger.info("ingress listening", metadata: ["listen": "\(l.host):\(l.port)", "enclave_port": "\(l.enclavePort)"])
                }
            },
            stop: {
                logger.info("stopping ingress and draining open connections", metadata: ["drain_ms": "\(m.host.drainMs)"])
                await withTaskGroup(of: Void.self) { g in
                    for l in listeners { g.addTask { await l.stop(drain: drain) } }
                }
            })
        let adminApp = admin.application(onRunning: { port in
            logger.info("admin listening", metadata: ["address": "\(m.host.adminHost):\(port)", "paths": "/healthz /metrics"])
        })
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        // The enclave's sealing needs credentials and (in emulation) the KMS before it boots.
        if let refresher { services.append(.init(service: refresher)) }
        if let kms = configuration.emulatedKMS {
            services.append(
                .init(
                    service: try kms.application(onRunning: { [kmsRoute] port in
                        kmsRoute?.listening(on: port)
                        logger.notice(
                            "emulated KMS listening: its keys are a file on this machine, so emulation protects nothing from this machine's owner",
                            metadata: ["address": "127.0.0.1:\(port)", "endpoint": "\(kmsRoute.map { "\($0.endpointHost):\($0.endpointPort)" } ?? "")",
                                       "keys": "\(kms.kms.keys.path)"])
                    })))
        }
        services += [
            .init(service: bridgeService),
            .init(service: supervisor),
            .init(service: adminApp),
            .init(service: ingressService),
        ]
        if let requestPath, let api = m.api {
            services.append(.init(service: LifecycleService(start: {}, stop: { requestPath.queue.stop() })))
            services.append(
                .init(
                    service: requestPath.server.application(onRunning: { port in
                        logger.info(
                            "api listening",
                            metadata: ["address": "\(api.listenHost):\(port)", "database": "\(requestPath.queue.database.path)",
                                       "admin": "\(requestPath.server.auth.adminEnabled ? "enabled" : "disabled (no admin token)")"])
                    })))
        }
        let serviceGroup = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await serviceGroup.run()
        logger.info("host stopped")
    }
}

/// The request path's parts on the host: database, queue, authenticator and API server.
struct RequestPath: Sendable {
    let queue: JobQueue
    let server: APIServer
    let logger: Logger

    static func open(_ c: HostService.Configuration, group: EventLoopGroup, logger: Logger) throws -> RequestPath? {
        guard let api = c.manifest.api else { return nil }
        guard let path = c.databasePath else { throw HostStartError("the manifest has an api section; the request path needs a database (--data-dir)") }
        let database: HostDatabase
        do { database = try HostDatabase(path: path) } catch { throw HostStartError("cannot open the database \(path): \(error)") }
        var qc = JobQueue.Configuration()
        qc.leaseMs = api.leaseMs
        qc.maxPendingAttestations = api.attestationSlots
        qc.maxAnonymousAttestations = api.anonymousAttestationSlots
        qc.maxQueuedPerTenant = api.tenantMaxQueuedJobs
        qc.maxBytesPerTenant = api.tenantMaxBytesInFlight
        qc.maxWorkBytes = c.manifest.bridge.maxFrameBytes - DeploymentManifest.API.frameOverhead
        let queue = JobQueue(database: database, configuration: qc, eventLoop: group.next(), logger: logger)
        // Loaded before any service runs, so that no job is submitted or leased while the table is read.
        do { try queue.start() } catch { throw HostStartError("cannot read the queue in \(path): \(error)") }
        let auth: APIAuthenticator
        do { auth = try APIAuthenticator(database: database, committer: queue.committer, adminToken: c.adminToken) } catch {
            throw HostStartError("cannot read the tokens in \(path): \(error)")
        }
        let server = APIServer(
            host: api.listenHost, port: api.listenPort, maxBodyBytes: api.maxBodyBytes, wait: .milliseconds(Int64(api.waitMs)), queue: queue,
            auth: auth, witnesses: c.manifest.log.witnesses,
            attestationLimiter: AttestationLimiter(limit: RateLimit(perMinute: api.attestationPerMinute, burst: api.attestationBurst)), logger: logger)
        return RequestPath(queue: queue, server: server, logger: logger)
    }

    /// Keeps a boot attestation document so that auditors can fetch it by hash (`GET /v1/boots/HASH`).
    func recordBoot(_ document: [UInt8]) {
        let hash = SHA.sha256(document)
        let now = Int64(WallClock.milliseconds())
        Task { [queue, logger] in
            do {
                _ = try await queue.committer.run { db in
                    try db.execute(
                        sql: "INSERT INTO boots (hash, document, first_seen) VALUES (?, ?, ?) ON CONFLICT (hash) DO NOTHING",
                        arguments: [Data(hash), Data(document), now])
                }
            } catch {
                logger.error("cannot record the boot document: \(error)")
            }
        }
    }
}

extension HostService {
    /// Logs what the enclave's boot attestation says (module, PCR0) and whether it verified.
    static func logAttestation(_ document: [UInt8], roots: TrustedRoots, logger: Logger) {
        do {
            let verified = try AttestationVerifier(roots: roots, cache: nil).verify(document)
            let d = verified.document
            logger.info(
                "enclave boot attestation verified",
                metadata: ["module_id": "\(d.moduleID)", "pcr0": "\(Hex.encode(d.pcrs[0] ?? []))", "bytes": "\(document.count)"])
        } catch {
            logger.warning("enclave boot attestation did not verify", metadata: ["code": "\(error.code.rawValue)", "error": "\(error)"])
        }
    }
}

/// Why the host could not start, in a sentence.
public struct HostStartError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A service made of a start and a stop: it starts, waits for graceful shutdown, and stops.
struct LifecycleService: Service {
    let start: @Sendable () async throws -> Void
    let stop: @Sendable () async -> Void

    func run() async throws {
        try await start()
        try? await gracefulShutdown()
        await stop()
    }
}
