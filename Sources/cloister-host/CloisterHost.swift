import AWSKMS
import ArgumentParser
import EmulatedKMS
import Foundation
import HostRuntime
import Logging
import NitroAttestation
import SecureModule
import VsockBridge

@main
struct CloisterHost: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cloister-host",
        abstract: "The untrusted half of Cloister: starts and supervises the enclave and bridges its traffic.",
        discussion: """
            Reads a deployment manifest, listens on the bridge port for the connections the enclave dials \
            (control, log, ingress tunnels, egress), starts the enclave and restarts it if it exits or goes \
            silent, serves the manifest's ingress listeners, and /healthz and /metrics on the admin port. \
            Logs are JSON lines on standard output; the enclave's own lines carry "label": "enclave".

            With the manifest's api section it also serves the public HTTP API (docs/api.md): bearer tokens \
            (--admin-token-file creates tenants and tokens), a durable job queue in --data-dir/cloister.sqlite \
            (every job committed before it is answered or forwarded), the queue and store channels the enclave \
            pulls from, and the receipt log. It fetches the instance role's AWS credentials from IMDSv2 (--imds), \
            refreshes them before they expire and hands them to the enclave, which signs its own requests to AWS KMS \
            (TLS ends inside the enclave). In emulation it also runs an emulated KMS that speaks the same protocol \
            (HTTPS with a certificate from the emulated root, SigV4, a key policy on the recipient's PCRs: \
            --sealing-policy, --kms-key-policy) and routes the manifest's KMS endpoint to it; its keys \
            (kms/keys.cbor in --emulator-dir) are a file on this machine.

            On a Nitro parent instance (/dev/nitro_enclaves present) the transport is vsock and the enclave is \
            the manifest's EIF, run with nitro-cli. Elsewhere the transport is TCP on 127.0.0.1 and the enclave is \
            cloister-enclave run as a child process with the software secure module (emulation: nothing is \
            protected from this machine's owner). SIGTERM or SIGINT drains ingress, terminates the enclave and \
            exits 0.
            """)

    @Option(help: "The deployment manifest (JSON; see docs/manifest.md).")
    var manifest: String

    @Option(help: "auto (vsock when /dev/nitro_enclaves exists), vsock or tcp.")
    var transport: Transport = .auto

    @Option(help: "Emulation: the cloister-enclave executable (default: the manifest's enclave.binary, else the one beside cloister-host).")
    var enclaveBinary: String?

    @Option(help: "Emulation: the emulated root's directory (created if missing); the emulated KMS keeps its keys there too (kms/keys.cbor).")
    var emulatorDir: String = EmulatedRoot.defaultDirectory

    @Option(
        name: .customLong("sealing-policy"),
        help: ArgumentHelp(
            "Emulation: a build the emulated KMS's key policy lets decrypt the master secret: a pins file (what `cloister measure` or nitro-cli prints, or a Cloister manifest: its attestation.pcrs and builds). Repeat for each authorised build (an upgrade lists the old and the new). Default: the build this host launches.",
            valueName: "FILE"))
    var sealingPolicy: [String] = []

    @Option(
        name: .customLong("bridge-pins"),
        help: ArgumentHelp(
            "A build whose enclave may open bridge connections: a pins file (as for --sealing-policy). Repeat for each build (an upgrade lists the old and the new). Default: in emulation, the builds --sealing-policy names, else the build this host launches; on Nitro, any enclave the AWS root attests, so give the EIF's pins to keep a neighbour enclave of another build on this instance off the bridge.",
            valueName: "FILE"))
    var bridgePins: [String] = []

    @Option(
        name: .customLong("kms-key-policy"),
        help: ArgumentHelp(
            "Emulation: the emulated KMS's key policy (JSON, as `cloister kms policy` prints it). Default: one that lets the emulated role encrypt, and decrypt for the builds --sealing-policy names.",
            valueName: "FILE"))
    var kmsKeyPolicy: String?

    @Option(
        name: .customLong("emulated-credentials-lifetime"),
        help: ArgumentHelp("Emulation: how long each set of the emulated role's AWS credentials lives, in seconds (AWS: about 6 hours).", valueName: "SECONDS"))
    var emulatedCredentialsLifetime: Int = 21_600

    @Option(
        help: ArgumentHelp(
            "Where the instance role's AWS credentials come from: the instance metadata service (IMDSv2) at this http://HOST[:PORT]. Default on Nitro: http://169.254.169.254; in emulation the emulated role's, unless given.",
            valueName: "URL"))
    var imds: String?

    @Option(help: "nitro-cli to use on Nitro.")
    var nitroCli: String = "nitro-cli"

    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Where the request path keeps its SQLite file (cloister.sqlite), created if missing. Needed when the manifest has an api section.", valueName: "DIR"))
    var dataDir: String?

    @Option(name: .customLong("admin-token-file"), help: ArgumentHelp("A file holding the administrator's bearer token (creates tenants and tokens). Also read from CLOISTER_ADMIN_TOKEN. Without either, admin routes answer 403.", valueName: "FILE"))
    var adminTokenFile: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        // Read at most one byte past the limit: the parser refuses what is too large without reading it all.
        guard let handle = FileHandle(forReadingAtPath: manifest),
            let data = try? handle.read(upToCount: DeploymentManifest.maxFileSize + 1)
        else {
            throw ValidationError("cannot read the manifest \(manifest)")
        }
        let parsed: DeploymentManifest
        do { parsed = try DeploymentManifest.parse(Array(data)) } catch { throw ValidationError("\(error)") }
        let level = logLevel
        LoggingSystem.bootstrap { JSONLogHandler(label: $0, level: level) }
        let logger = Logger(label: "host")

        let mode = transport.resolved(nitroDevice: Transport.hostDevice)
        let launcher: any EnclaveLauncher
        var roots = TrustedRoots.aws
        switch mode {
        case .vsock:
            launcher = NitroCLILauncher(nitroCLI: nitroCli, enclave: parsed.enclave)
            logger.info("mode: Nitro (vsock, nitro-cli)", metadata: ["eif": "\(parsed.enclave.eif)", "cid": "\(parsed.enclave.cid)"])
        case .tcp, .auto:
            let binary = enclaveBinary ?? parsed.enclave.binary ?? Self.besideMe("cloister-enclave")
            do {
                let (root, created) = try EmulatedRoot.loadOrCreate(directory: emulatorDir)
                roots = TrustedRoots(certificates: [root.certificate])
                logger.notice(
                    "mode: EMULATION (TCP loopback, child process, software secure module); nothing is protected from this machine's owner",
                    metadata: ["enclave": "\(binary)", "emulated_root": "\(EmulatedRoot.certificatePath(emulatorDir))", "root_created": "\(created)",
                               "root_sha256": "\(root.certificate.sha256.map { String(format: "%02X", $0) }.joined())"])
            } catch {
                throw ValidationError("cannot prepare the emulated root in \(emulatorDir): \(error)")
            }
            let bridge = "tcp://\(BridgeConstants.emulatedBridgeHost):\(parsed.bridge.port)"
            launcher = ChildProcessLauncher(
                executable: binary,
                arguments: ["--manifest", manifest, "--transport", "tcp", "--bridge", bridge, "--emulator-dir", emulatorDir, "--log-level", level.rawValue,
                            "--parent-pid", String(getpid())])
        }
        var configuration = HostService.Configuration(
            manifest: parsed, bridge: mode.bridgeAddressForHost(port: parsed.bridge.port), launcher: launcher)
        configuration.attestationRoots = roots
        configuration.bridgeBuilds = try bridgeBuilds(manifest: manifest, parsed: parsed, mode: mode)
        if configuration.bridgeBuilds.isEmpty {
            logger.notice("bridge: any enclave the AWS root attests may connect (no --bridge-pins): a neighbour enclave of another build on this instance too")
        }
        if mode != .vsock {
            let kms = try emulatedKMS(manifest: manifest, parsed: parsed, root: try EmulatedRoot.load(directory: emulatorDir), logger: logger)
            configuration.emulatedKMS = kms
            configuration.credentialsSource = imds == nil ? EmulatedRoleCredentials(role: kms.role) : nil
        }
        if let source = try instanceMetadata(mode: mode) { configuration.credentialsSource = source }
        if let dataDir {
            do { try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]) } catch {
                throw ValidationError("cannot create the data directory \(dataDir): \(error.localizedDescription)")
            }
            configuration.databasePath = URL(fileURLWithPath: dataDir).appendingPathComponent("cloister.sqlite").path
        }
        configuration.adminToken = try Self.adminToken(file: adminTokenFile)
        do {
            try await HostService(configuration: configuration, logger: logger).run()
        } catch {
            logger.critical("cloister-host stopped: \(error)")
            FileHandle.standardError.write(Data("cloister-host: \(Self.describe(error))\n".utf8))
            throw ExitCode(1)
        }
    }

    /// The builds `--sealing-policy` names, else the build this host launches (measured here the way the software
    /// secure module measures it).
    func authorisedBuilds(manifest: String, parsed: DeploymentManifest) throws -> [[Int: [UInt8]]] {
        var builds = try Self.builds(pinsFiles: sealingPolicy, what: "sealing policy")
        if builds.isEmpty {
            let binary = enclaveBinary ?? parsed.enclave.binary ?? Self.besideMe("cloister-enclave")
            guard let executable = FileManager.default.contents(atPath: binary), let manifestBytes = FileManager.default.contents(atPath: manifest) else {
                throw ValidationError("cannot read \(binary) and \(manifest) to measure the enclave for the sealing policy")
            }
            let pcrs = EnclaveImage(executable: Array(executable), manifest: Array(manifestBytes), debug: parsed.enclave.debugMode).measurements
            builds = [[0: pcrs[0]!, 1: pcrs[1]!, 2: pcrs[2]!]]
        }
        return builds.filter { !$0.isEmpty }
    }

    /// The builds whose enclaves may open bridge connections (`--bridge-pins`, else as its help says); empty: any
    /// build the roots attest.
    func bridgeBuilds(manifest: String, parsed: DeploymentManifest, mode: Transport) throws -> [[Int: [UInt8]]] {
        if !bridgePins.isEmpty { return try Self.builds(pinsFiles: bridgePins, what: "bridge pins") }
        return mode == .vsock ? [] : try authorisedBuilds(manifest: manifest, parsed: parsed)
    }

    /// The builds pins files name (each file's attestation.pcrs and builds).
    static func builds(pinsFiles: [String], what: String) throws -> [[Int: [UInt8]]] {
        var builds: [[Int: [UInt8]]] = []
        for file in pinsFiles {
            guard let bytes = FileManager.default.contents(atPath: file), bytes.count <= DeploymentManifest.maxFileSize else {
                throw ValidationError("cannot read the \(what) file \(file)")
            }
            do {
                let pins = try TrustManifest.parse(Array(bytes))
                builds += [pins.pcrs] + pins.builds
            } catch { throw ValidationError("\(file): \(error)") }
        }
        return builds.filter { !$0.isEmpty }
    }

    /// The emulated KMS: its keys in the emulator directory, its key policy from `--kms-key-policy` or made for the
    /// authorised builds the way `cloister kms policy` makes one, its role's credentials living
    /// `--emulated-credentials-lifetime` seconds.
    func emulatedKMS(manifest: String, parsed: DeploymentManifest, root: EmulatedRoot, logger: Logger) throws -> EmulatedKMSServer {
        let kms = parsed.effectiveKMS(emulated: true)!
        let role = EmulatedRole(lifetime: Int64(emulatedCredentialsLifetime))
        let policyJSON: [UInt8]
        if let file = kmsKeyPolicy {
            guard let bytes = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read the key policy \(file)") }
            policyJSON = Array(bytes)
        } else {
            let builds = try authorisedBuilds(manifest: manifest, parsed: parsed)
            do {
                policyJSON = Array(try KMSKeyPolicy(builds: builds, role: role.arn, admin: "arn:aws:iam::000000000000:root").json())
            } catch { throw ValidationError("cannot make the emulated KMS's key policy: \(error)") }
            logger.notice(
                "emulated KMS key policy: the builds it lets decrypt",
                metadata: ["authorised_builds": "\(builds.map { b in b.keys.sorted().map { "PCR\($0) \(Hex.encode(b[$0]!).prefix(16))…" }.joined(separator: " ") })"])
        }
        do {
            let policy = try EmulatedKeyPolicy(json: policyJSON)
            try FileManager.default.createDirectory(atPath: emulatorDir + "/kms", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let keys = try EmulatedKeyStore(path: emulatorDir + "/kms/keys.cbor")
            let service = EmulatedKMS(region: kms.region, keys: keys, policy: policy, roots: TrustedRoots(certificates: [root.certificate]))
            return try EmulatedKMSServer(kms: service, role: role, root: root, names: [kms.endpointHost], logger: logger)
        } catch {
            throw ValidationError("cannot prepare the emulated KMS: \(error)")
        }
    }

    /// The IMDSv2 client for `--imds` (and on Nitro, by default).
    func instanceMetadata(mode: Transport) throws -> InstanceMetadataClient? {
        guard imds != nil || mode == .vsock else { return nil }
        var configuration = InstanceMetadataConfiguration()
        if let imds {
            guard let url = URL(string: imds), url.scheme == "http", let host = url.host, url.path.isEmpty || url.path == "/" else {
                throw ValidationError("--imds must be http://HOST[:PORT] (got \(imds))")
            }
            configuration.host = host
            configuration.port = url.port ?? 80
        }
        do { return try InstanceMetadataClient(configuration: configuration) } catch { throw ValidationError("--imds: \(error)") }
    }

    /// The innermost useful sentence of an error the service group wraps.
    static func describe(_ error: Error) -> String {
        let text = "\(error)"
        if let range = text.range(of: "cannot listen on") {
            return String(text[range.lowerBound...]).replacingOccurrences(of: "\n", with: " ")
        }
        return text
    }

    static func adminToken(file: String?) throws -> String? {
        var token: String?
        if let file {
            guard let data = FileManager.default.contents(atPath: file), data.count <= 1024 else { throw ValidationError("cannot read the admin token file \(file)") }
            token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        } else if let env = ProcessInfo.processInfo.environment["CLOISTER_ADMIN_TOKEN"] {
            token = env.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if let token, token.utf8.count < 16 { throw ValidationError("the admin token must be at least 16 characters") }
        return token
    }

    static func besideMe(_ name: String) -> String {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent(name).path
    }
}

extension Transport: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}
