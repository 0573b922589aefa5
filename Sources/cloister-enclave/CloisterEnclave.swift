import ArgumentParser
import EnclaveRuntime
import KeyService
import Logging
import NIOPosix
import SecureModule
import ServiceLifecycle
import VsockBridge

#if canImport(Glibc)
import Glibc
#endif

@main
struct CloisterEnclave: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cloister-enclave",
        abstract: "The trusted half of Cloister: runs inside the Nitro Enclave (or, in emulation, as a child of cloister-host).",
        discussion: """
            Boots the secure module (/dev/nsm, or the software module where /dev/nsm is absent), takes its boot \
            attestation, and dials the host's bridge: a control channel (hello with the attestation, heartbeats), a \
            log channel, a pool of idle ingress tunnels and, when the manifest allows egress, an enclave-local HTTP \
            CONNECT proxy. It never accepts a connection from the host.

            With the manifest's api section it creates its identity keys (P-384 signing, X25519 HPKE), binds \
            them in its boot attestation, and pulls jobs from the host's queue, sealing every answer and receipt. \
            The keys workload (the key service) first holds its deployment's master secret: on the first boot of a \
            deployment it makes it inside, has a sealing provider seal it, and records a genesis attestation binding \
            the master's public commitment to the sealed blob; on later boots it accepts the host's blob only with a \
            genesis from an authorised build (itself, or the manifest's builds) whose commitment the unsealed master \
            matches. Otherwise it stops, naming the rule, and serves nothing. The sealing provider is AWS KMS \
            (the manifest's kms section), reached over TLS that ends here, through the enclave's own egress, with \
            the instance role's credentials the host hands over; in emulation, the host's emulated KMS, same code.

            It is normally started by cloister-host (emulation) or by nitro-cli from the EIF (Nitro). Run by hand, \
            it needs a host listening on the bridge address.
            """)

    @Option(help: "The deployment manifest (JSON). Its attestation section, if any, is ignored here.")
    var manifest: String?

    @Flag(help: "Bring the loopback interface up if it is down, check that a connection to 127.0.0.1 works, and exit.")
    var checkNetwork = false

    @Option(help: "auto (vsock when /dev/nsm exists), vsock or tcp.")
    var transport: Transport = .auto

    @Option(help: "The host's bridge address (vsock://CID:PORT or tcp://HOST:PORT); default from the transport and the manifest's bridge.port.")
    var bridge: String?

    @Option(name: .customLong("secure-module"), help: "auto (the device when /dev/nsm exists), device or software.")
    var secureModule: SecureModuleSelection = .auto

    @Option(help: "The emulated root's directory, for the software secure module.")
    var emulatorDir: String = EmulatedRoot.defaultDirectory

    @Option(
        name: .customLong("kms-roots"),
        help: ArgumentHelp("On Nitro: the PEM file of roots the KMS endpoint's TLS certificate must chain to (the image carries Amazon Trust Services' roots there). In emulation the emulated root is used instead.", valueName: "FILE"))
    var kmsRoots: String = EnclaveService.defaultKMSTrustRoots

    @Option(help: "Emulation: stop when this process (the host that started us) is no longer the parent.")
    var parentPid: Int32?

    @Option(help: "Log level shipped to the host: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func validate() throws {
        if !checkNetwork && manifest == nil { throw ValidationError("--manifest is required") }
    }

    func run() async throws {
        if checkNetwork {
            let outcome: Loopback.Outcome
            do { outcome = try Loopback.ensureUp() } catch {
                print("loopback: \(error)")
                throw ExitCode(1)
            }
            let state = outcome == .alreadyUp ? "already up" : "brought up"
            do {
                let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
                let port = listener.localAddress?.port ?? 0
                let client = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .connectTimeout(.seconds(2)).connect(host: "127.0.0.1", port: port).get()
                try await client.close()
                try await listener.close()
                print("loopback: \(state); connected to 127.0.0.1:\(port)")
            } catch {
                print("loopback: \(state), but a connection to 127.0.0.1 failed: \(error)")
                throw ExitCode(1)
            }
            return
        }
        guard let manifest else { throw ValidationError("--manifest is required") }
        guard let bytes = readFileBytes(manifest, limit: DeploymentManifest.maxFileSize) else {
            throw ValidationError("cannot read the manifest \(manifest)")
        }
        let parsed: DeploymentManifest
        do { parsed = try DeploymentManifest.parse(bytes) } catch { throw ValidationError("\(error)") }
        let address: BridgeAddress
        if let bridge {
            do { address = try BridgeAddress(bridge) } catch { throw ValidationError("\(error)") }
        } else {
            address = transport.resolved(nitroDevice: Transport.enclaveDevice).bridgeAddressForEnclave(port: parsed.bridge.port)
        }

        let shipper = LogShipper()
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var h = shipper.handler(label: label)
            h.logLevel = level
            return h
        }
        let logger = Logger(label: "enclave")
        var configuration = EnclaveService.Configuration(manifest: parsed, manifestBytes: bytes, bridge: address)
        configuration.secureModule = secureModule
        configuration.emulatorDirectory = emulatorDir
        configuration.kmsTrustRoots = kmsRoots
        configuration.parentProcess = parentPid
        let environment = EnclaveMemory.variables.compactMap { v in getenv(v.name).map { (v.name, String(cString: $0)) } }
        do { configuration.memory = try EnclaveMemory(environment: Dictionary(uniqueKeysWithValues: environment)) } catch { throw ValidationError("\(error)") }
        configuration.jobWorkloads["keys"] = JobWorkloadRegistration(needsMaster: true) { context in
            KeyServiceWorkload(
                vault: KeyVault(store: context.store, master: context.master!, logger: context.logger, memory: context.memory), identity: context.identity,
                ledger: ActionLedger(maxBytes: context.memory.actionLedgerBytes))
        }
        let service = EnclaveService(configuration: configuration, group: MultiThreadedEventLoopGroup.singleton, logger: logger, shipper: shipper)
        let group = ServiceGroup(
            configuration: .init(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            let line = "cloister-enclave: \(error)\n"
            var b = Array(line.utf8)
            _ = b.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
            throw ExitCode(1)
        }
    }
}

extension Transport: ExpressibleByArgument {}
extension SecureModuleSelection: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}
