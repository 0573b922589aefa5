#if canImport(Glibc)
import BridgeEnclave
import Glibc
#endif
import EnclaveWire
import Foundation
import Logging
import NIOCore
import NIOPosix
import NitroAttestation
import SecureModule
import ServiceLifecycle
import VsockBridge

/// Everything the enclave process runs: it boots its secure module and takes its boot attestation, then dials
/// the host for control, logs, the ingress pool and egress, serves its workloads, and on graceful shutdown closes
/// all of it. It never listens on anything the host can reach (the egress proxy is enclave-local).
public final class EnclaveService: Service, Sendable {
    /// What the enclave needs to start.
    public struct Configuration: Sendable {
        public var manifest: DeploymentManifest
        /// The manifest file as read, which the software module measures into PCR0 and PCR2.
        public var manifestBytes: [UInt8]
        public var bridge: BridgeAddress
        public var secureModule: SecureModuleSelection = .auto
        /// The emulated root's directory (software module only).
        public var emulatorDirectory: String = EmulatedRoot.defaultDirectory
        /// This executable, which the software module measures into PCR0 and PCR1.
        public var executablePath: String = "/proc/self/exe"
        /// Emulation: the host process this enclave is a child of. When it is gone (even killed with SIGKILL, which
        /// gives it no chance to stop its child), the enclave stops too, so that a restarted host never finds an
        /// orphan from its previous life serving beside the enclave it starts.
        public var parentProcess: Int32?
        /// Job workloads beyond the built-in ones, by name (the key service registers `keys`).
        public var jobWorkloads: [String: JobWorkloadRegistration] = [:]
        /// The roots (PEM) a KMS endpoint's TLS certificate must chain to on Nitro: Amazon Trust Services', carried
        /// in the image so that they are measured. In emulation the emulated root is the only one.
        public var kmsTrustRoots: String = EnclaveService.defaultKMSTrustRoots
        /// The bounds of what grows in memory with tenant input or time.
        public var memory = EnclaveMemory()

        public init(manifest: DeploymentManifest, manifestBytes: [UInt8], bridge: BridgeAddress) {
            self.manifest = manifest
            self.manifestBytes = manifestBytes
            self.bridge = bridge
        }
    }

    /// Where the image carries the Amazon Trust Services roots.
    public static let defaultKMSTrustRoots = "/etc/cloister/kms-trust-roots.pem"

    public let configuration: Configuration
    private let group: EventLoopGroup
    private let logger: Logger
    private let shipper: LogShipper?
    private let started = NIODeadline.now()

    public init(configuration: Configuration, group: EventLoopGroup, logger: Logger, shipper: LogShipper? = nil) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
        self.shipper = shipper
    }

    public func run() async throws {
        let c = configuration
        let m = c.manifest
        let opened = try openSecureModule()
        // Every connection to the host answers its challenge with this boot's key (docs/bridge.md), the log's first.
        let credential = try await BridgeCredential.create(module: opened.module, manifestBytes: c.manifestBytes)
        let prover = credential.prover
        shipper?.connect(bridge: c.bridge, prover: prover, group: group, maxFrameSize: m.bridge.maxFrameBytes, logger: logger)
        logger.info("\(opened.description)")
        if let api = m.api, JobWorkloads.named(api.workload) == nil, c.jobWorkloads[api.workload] == nil {
            let names = (JobWorkloads.names + c.jobWorkloads.keys).sorted().joined(separator: ", ")
            throw DeploymentManifest.Error("api.workload", "unknown job workload \"\(api.workload)\" (this build has: \(names))")
        }
        let registration = m.api.flatMap { c.jobWorkloads[$0.workload] }

        // The store and the sealing provider come first: a workload that needs the master gets it, with its genesis
        // verified, before the boot attestation (which carries the deployment's commitment) and before anything is
        // served. Without it the enclave stops here, saying why, and serves nothing.
        var store: StoreClient?
        var credentials: CredentialsClient?
        var master: MasterSecret?
        var recovery: (@Sendable (EnclaveIdentity) -> RecoveryWorkload)?
        // A restore ends this boot (gracefully), so that the next one unseals the restored master the ordinary way.
        let (restored, restoredContinuation) = AsyncStream.makeStream(of: Void.self)
        if m.api != nil {
            let s = StoreClient(bridge: c.bridge, prover: prover, maxFrameSize: m.bridge.maxFrameBytes, group: group, logger: logger)
            s.start()
            store = s
        }
        if let registration, registration.needsMaster, let store {
            guard let kms = m.effectiveKMS(emulated: opened.isEmulated) else {
                throw DeploymentManifest.Error("kms", "the \(m.api!.workload) workload needs a master secret: name the KMS key that seals it (kms.region, kms.key)")
            }
            // On Nitro only AWS's own KMS names: the Amazon roots the enclave trusts also certify names customers own.
            guard opened.isEmulated || kms.isAWSEndpoint else {
                throw DeploymentManifest.Error("kms.endpoint", "\(kms.endpointHost) is not an AWS KMS endpoint for \(kms.region) (kms[-fips].\(kms.region).amazonaws.com or a VPC endpoint's name)")
            }
            let credentialsClient = CredentialsClient(bridge: c.bridge, prover: prover, maxFrameSize: m.bridge.maxFrameBytes, group: group, logger: logger)
            credentialsClient.start()
            credentials = credentialsClient
            do {
                let trust = try KMSTrust.load(emulated: opened.isEmulated, emulatorDirectory: c.emulatorDirectory, rootsFile: c.kmsTrustRoots)
                let dialer = EgressDialer(
                    bridge: c.bridge, prover: prover, allowlist: m.egressDestinations(emulated: opened.isEmulated), maxFrameSize: m.bridge.maxFrameBytes, group: group,
                    logger: logger)
                let sealing = try KMSSealingProvider.make(kms: kms, dialer: dialer, trust: trust.tls, credentials: credentialsClient)
                logger.info("sealing with AWS KMS\(opened.isEmulated ? " (emulated)" : "")", metadata: ["key": "\(kms.keyID)", "endpoint": "\(kms.endpointHost):\(kms.endpointPort)"])
                let policy = try await GenesisPolicy.forEnclave(module: opened.module, roots: trust.attestation, otherBuilds: m.builds, allowDebug: m.enclave.debugMode)
                let recipient = SealingRecipient(module: opened.module, manifestHash: SHA.sha256(c.manifestBytes))
                var loaded: MasterError?
                do {
                    let held = try await DeploymentGenesis.load(store: store, sealing: sealing, recipient: recipient, policy: policy, logger: logger).master
                    await DeploymentGenesis.keepRecovery(held, keys: m.recoveryKeys, store: store, logger: logger)
                    master = held
                } catch { loaded = error }
                if let error = loaded {
                    // Only KMS itself saying the key is gone (not a network failure, missing credentials or a refusal of
                    // this build) puts the enclave in wait for a recovery; anything else stops it, to be started again.
                    guard error.code == .sealingRefused, !m.recoveryKeys.isEmpty, let provider = error.provider, KMSSealingProvider.keyIsGone.contains(provider) else {
                        throw error
                    }
                    // The deployment exists but its blob cannot be unsealed (the KMS key is gone): wait for its master
                    // from a recovery key rather than stop, serving nothing else.
                    let (record, version, _) = try await DeploymentGenesis.recoverable(store: store, policy: policy)
                    logger.critical(
                        "cannot unseal the master secret; awaiting recovery (cloister recovery restore) and serving nothing else",
                        metadata: ["error": "\(error)"])
                    recovery = { [logger] identity in
                        RecoveryWorkload(
                            identity: identity, record: record, version: version, sealing: sealing, recipient: recipient, policy: policy, logger: logger,
                            onRestored: { restoredContinuation.yield() })
                    }
                }
            } catch {
                logger.critical("no master secret: this enclave serves nothing", metadata: ["error": "\(error)"])
                store.stop()
                credentialsClient.stop()
                throw error
            }
        }

        // The deployment log goes on from the head in the store, once that head is checked to be this deployment's.
        // Before serving, the witnesses must have seen that head (when the manifest asks for them), and every record
        // the workloads will read must be the state that head committed to.
        var log: DeploymentLog?
        if let master, let store {
            do {
                var loaded = try await DeploymentLog.load(store: store, master: master)
                try await loaded.awaitWitnesses(m.log, store: store, logger: logger)
                let tracked = TrackedStore(inner: store, master: master, maxIndexBytes: c.memory.storeIndexBytes)
                do {
                    let foreign = try await tracked.load(headSize: loaded.range.size, root: loaded.stateRoot)
                    if foreign > 0 { logger.warning("\(foreign) record(s) in the store are not this deployment's; they are left out and cannot be read") }
                } catch let error as DeploymentLogError {
                    throw error
                } catch {
                    throw DeploymentLogError(.storeUnavailable, "reading the store: \(error)", underlying: error)
                }
                loaded.state = tracked
                logger.info(
                    "deployment log loaded", metadata: ["size": "\(loaded.range.size)", "origin": "\(loaded.origin)", "state": "checked"])
                log = loaded
            } catch {
                logger.critical("the deployment log's stored head or state is refused: this enclave serves nothing", metadata: ["error": "\(error)"])
                store.stop()
                credentials?.stop()
                throw error
            }
        }

        // The identity keys are created here, inside, and the boot document binds them to this image.
        let identity = try await EnclaveIdentity.create(
            module: opened.module, manifestBytes: c.manifestBytes, deployment: master?.commitment, bridge: credential)
        let attestation = identity.bootDocument
        logger.info(
            "boot attestation taken",
            metadata: [
                "bytes": "\(attestation.count)", "boot": "\(Hex.encode(identity.bootHash))", "identity": "P-384 + X25519 (HPKE)",
                "deployment": "\(master.map { Hex.encode($0.commitment) } ?? "none")",
            ])

        let routes = try Self.routes(m)
        do {
            if try Loopback.ensureUp() == .broughtUp { logger.info("loopback interface brought up (127.0.0.1/8)") }
        } catch {
            // Only the egress proxy and local ingress routes need it; say so clearly if one of them will fail.
            let needsLoopback = m.egress.proxyPort != nil || routes.values.contains { if case .local = $0 { true } else { false } }
            if needsLoopback { throw error }
            logger.warning("\(error)")
        }
        let tunnels = IngressTunnels(
            bridge: c.bridge, prover: prover, poolSize: m.bridge.ingressPool, maxFrameSize: m.bridge.maxFrameBytes, group: group, logger: logger,
            route: { [logger, group] port, peer, tunnel, rest in
                Self.serve(port: port, peer: peer, tunnel: tunnel, rest: rest, routes: routes, group: group, logger: logger)
            })
        let control = ControlClient(
            bridge: c.bridge, attestation: attestation, prover: prover, heartbeat: .milliseconds(Int64(m.bridge.heartbeatMs)),
            maxFrameSize: m.bridge.maxFrameBytes, group: group, logger: logger,
            status: { [started] in
                EnclaveStatus(
                    idleTunnels: UInt64(tunnels.idleCount), activeTunnels: UInt64(max(0, tunnels.activeCount)),
                    uptimeMilliseconds: UInt64((NIODeadline.now() - started).nanoseconds / 1_000_000))
            })
        var proxy: EgressProxy?
        if let port = m.egress.proxyPort {
            let p = EgressProxy(listenPort: port, bridge: c.bridge, prover: prover, allowlist: m.egress.allow, maxFrameSize: m.bridge.maxFrameBytes, group: group, logger: logger)
            try await p.start()
            proxy = p
            logger.info("egress proxy listening", metadata: ["port": "\(port)", "allowed": "\(m.egress.allow.entries.count)"])
        }
        control.start()
        tunnels.start()
        var worker: QueueWorker?
        if let api = m.api, let s = store {
            let context = JobWorkloadContext(identity: identity, store: log?.state ?? s, master: master, logger: logger, memory: c.memory)
            let jobWorkload: any JobWorkload = try recovery.map { $0(identity) } ?? JobWorkloads.named(api.workload) ?? registration!.make(context)
            var queue = QueueWorker.Configuration()
            queue.rememberedBytes = c.memory.answerBytes
            worker = QueueWorker(
                bridge: c.bridge, prover: prover, identity: identity, workload: jobWorkload, store: s, log: log, master: master, configuration: queue,
                maxFrameSize: m.bridge.maxFrameBytes, group: group, logger: logger)
        }
        logger.info(
            "enclave up",
            metadata: ["bridge": "\(c.bridge)", "pool": "\(m.bridge.ingressPool)", "routes": "\(routes.count)", "jobs": "\(m.api?.workload ?? "none")"])

        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await gracefulShutdown() }
            group.addTask(operation: { [logger] in
                // A new bridge document long before the last one's certificate expires; a failure is retried sooner.
                var wait = BridgeCredential.refreshInterval
                while (try? await Task.sleep(for: wait)) != nil {
                    do {
                        try await credential.refresh()
                        wait = BridgeCredential.refreshInterval
                    } catch {
                        logger.error("cannot take a new bridge document: \(error)")
                        wait = .seconds(30)
                    }
                }
            })
            if recovery != nil {
                group.addTask { [logger] in
                    for await _ in restored {
                        // Give the answer a moment to reach the host.
                        try? await Task.sleep(for: .seconds(1))
                        logger.notice("the master secret was restored; stopping this boot so that the next one unseals it")
                        return
                    }
                }
            }
            if let worker {
                group.addTask {
                    await worker.run()
                    await Task.yield()
                }
            }
            if let parent = c.parentProcess {
                group.addTask { [logger] in
                    while !Task.isCancelled, getppid() == parent {
                        try? await Task.sleep(nanoseconds: 200_000_000)
                    }
                    if !Task.isCancelled { logger.warning("the host process \(parent) is gone; stopping") }
                }
            }
            await group.next()
            group.cancelAll()
        }

        logger.info("enclave stopping")
        tunnels.stop()
        store?.stop()
        credentials?.stop()
        await proxy?.stop()
        control.stop()
        await shipper?.stop()
    }

    private func openSecureModule() throws -> SecureModuleSelection.Opened {
        let c = configuration
        return try c.secureModule.open(
            image: { () throws(NSMError) -> EnclaveImage in
                guard let executable = readFileBytes(c.executablePath) else {
                    throw NSMError(.invalidArgument, "cannot read \(c.executablePath) to measure it")
                }
                return EnclaveImage(executable: executable, manifest: c.manifestBytes, debug: c.manifest.enclave.debugMode)
            },
            root: { () throws(NSMError) -> EmulatedRoot in try EmulatedRoot.load(directory: c.emulatorDirectory) })
    }

    /// What serves each enclave port: a built-in workload, or a splice to a local port.
    enum Route: Sendable {
        case workload(any Workload)
        case local(port: Int)
    }

    static func routes(_ m: DeploymentManifest) throws -> [UInt32: Route] {
        var routes: [UInt32: Route] = [:]
        for r in m.ingress {
            if let name = r.workload {
                guard let w = Workloads.named(name) else {
                    throw DeploymentManifest.Error("ingress", "unknown workload \"\(name)\" (this build has: \(Workloads.names.joined(separator: ", ")))")
                }
                routes[r.enclavePort] = .workload(w)
            } else {
                routes[r.enclavePort] = .local(port: Int(r.enclavePort))
            }
        }
        return routes
    }

    static func serve(port: UInt32, peer: String, tunnel: Channel, rest: ByteBuffer, routes: [UInt32: Route], group: EventLoopGroup, logger: Logger) {
        switch routes[port] {
        case .workload(let w)?:
            do { try w.serve(tunnel, rest: rest) } catch {
                logger.error("workload \(w.name) could not take a connection: \(error)")
                tunnel.close(promise: nil)
            }
        case .local(let local)?:
            do {
                let t = try SpliceHandler.attach(to: tunnel, prefix: rest)
                ClientBootstrap(group: tunnel.eventLoop)
                    .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                    .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                    .connect(host: "127.0.0.1", port: local)
                    .whenComplete { result in
                        switch result {
                        case .success(let channel):
                            do {
                                let l = try SpliceHandler.attach(to: channel)
                                SpliceHandler.link(t, on: tunnel, l, on: channel)
                            } catch {
                                channel.close(promise: nil)
                                tunnel.close(promise: nil)
                            }
                        case .failure(let error):
                            logger.warning("ingress: nothing serves enclave port \(local)", metadata: ["peer": "\(peer)", "error": "\(error)"])
                            tunnel.close(promise: nil)
                        }
                    }
            } catch {
                tunnel.close(promise: nil)
            }
        case nil:
            logger.warning("ingress for an enclave port no route serves; closing", metadata: ["port": "\(port)", "peer": "\(peer)"])
            tunnel.close(promise: nil)
        }
    }
}

/// The bytes of a file, or nil when it cannot be read. Reading stops past `limit` bytes, so that a wrong path (a
/// device, a disk image) fails fast: a result longer than `limit` means "too large".
public func readFileBytes(_ path: String, limit: Int = Int.max) -> [UInt8]? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while out.count <= limit {
        let n = fread(&chunk, 1, chunk.count, f)
        if n > 0 { out.append(contentsOf: chunk[0..<n]) }
        if n < chunk.count { break }
    }
    return ferror(f) == 0 ? out : nil
}
