import NitroAttestation
import TransparencyLog

/// How one deployment runs: the enclave's size and image, the bridge, the ingress listeners and the egress
/// allowlist, and the host's timings. It lives in the same JSON file as the attestation pins (`Manifests/*.json`);
/// every key is optional with the default documented in `docs/manifest.md`, and an unknown key is an error.
public struct DeploymentManifest: Sendable, Hashable {
    /// The enclave, as `nitro-cli run-enclave` starts it (or, in emulation, as a child process).
    public struct Enclave: Sendable, Hashable {
        /// The EIF to run on Nitro.
        public var eif: String = "/opt/cloister/cloister-enclave.eif"
        /// The `cloister-enclave` executable to run in emulation; nil: the one beside `cloister-host`.
        public var binary: String? = nil
        public var cpuCount: Int = 2
        public var memoryMiB: Int = 512
        /// The enclave's vsock context id (3 and below are reserved).
        public var cid: UInt32 = 16
        /// Debug mode: console readable, PCRs all zero. Never for production.
        public var debugMode: Bool = false

        public init() {}
    }

    /// The host's bridge listener and the heartbeat contract.
    public struct Bridge: Sendable, Hashable {
        public var port: UInt32 = BridgeConstants.bridgePort
        public var heartbeatMs: Int = 1000
        /// Heartbeats missed in a row before the host declares the enclave silent and restarts it.
        public var missedHeartbeats: Int = 3
        /// Idle ingress tunnels the enclave keeps dialed.
        public var ingressPool: Int = 32
        public var maxFrameBytes: Int = WireFrameLimit.default

        public init() {}
    }

    /// One public listener on the host, paired with a port inside the enclave.
    public struct IngressRoute: Sendable, Hashable {
        /// Where the host listens, `HOST:PORT`.
        public var listenHost: String
        public var listenPort: Int
        /// The port inside the enclave the connection is for.
        public var enclavePort: UInt32
        /// A built-in workload serving this port inside the enclave; nil: splice to the enclave's local port.
        public var workload: String?
    }

    /// The egress proxy inside the enclave and the destinations both sides allow.
    public struct Egress: Sendable, Hashable {
        /// The enclave-local port of the HTTP CONNECT proxy workloads use; nil: no egress.
        public var proxyPort: Int? = nil
        public var allow = EgressAllowlist()

        public init() {}
    }

    /// The host's own settings.
    public struct Host: Sendable, Hashable {
        /// The admin listener (`/healthz`, `/metrics`), `HOST:PORT`; loopback by default.
        public var adminHost = "127.0.0.1"
        public var adminPort = 9090
        /// How long a client waits for an enclave tunnel before the host closes it.
        public var ingressHoldMs = 5000
        /// How long a started enclave has to say hello on its control channel.
        public var bootTimeoutMs = 30_000
        public var restartMinMs = 200
        public var restartMaxMs = 10_000
        /// How long SIGTERM waits for open ingress connections before closing them.
        public var drainMs = 5000

        public init() {}
    }

    /// The attested request path: the host's public HTTP API, its durable queue, and the job workload the
    /// enclave runs for it. Absent: neither side runs the request path.
    public struct API: Sendable, Hashable {
        /// Where the host serves the API, `HOST:PORT`.
        public var listenHost = "127.0.0.1"
        public var listenPort = 8080
        /// The job workload inside the enclave (`test` in this build).
        public var workload = "test"
        /// Largest request body accepted.
        public var maxBodyBytes = 64 * 1024
        /// How long a call waits for its result before the host answers 202 (the job stays queued).
        public var waitMs = 10_000
        /// How long a leased job may stay unfinished before the host leases it again.
        public var leaseMs = 30_000
        /// Attestation requests one caller (a tenant, or an address without a token) may make per minute in the
        /// long run; beyond, 429 `rateLimited`.
        public var attestationPerMinute = 600
        /// Attestation requests one caller may make at once before the per-minute rate applies.
        public var attestationBurst = 60
        /// Attestation requests waiting for the enclave at once, from all callers; beyond, 503 `busy`.
        public var attestationSlots = 256
        /// How many of `attestationSlots` callers without a valid token may hold together (beyond, 503
        /// `anonymousBusy`); the rest are kept for callers with one.
        public var anonymousAttestationSlots = 128
        /// Jobs one tenant may have submitted and not yet finished; beyond, 429 `tenantQueueFull`.
        public var tenantMaxQueuedJobs = 10_000
        /// Request body bytes one tenant may have submitted and not yet finished; beyond, 429 `tenantBytesInFlight`.
        public var tenantMaxBytesInFlight = 256 * 1024 * 1024

        /// Room a queue message needs beyond the bodies or results it carries (framing, ids, receipts, seals).
        public static let frameOverhead = 64 * 1024
        /// The largest result a signed response carries (`SignedResponse.maxResultSize`).
        public static let maxResultBytes = 256 * 1024

        public init() {}
    }

    /// The AWS KMS key that seals the master secret, and where the enclave reaches KMS (through its egress, with TLS
    /// ending inside the enclave). The endpoint is allowed to the enclave's egress without being listed in `egress`.
    public struct KMS: Sendable, Hashable {
        public var region: String
        /// The key's ARN, or an alias ARN: never a bare id or alias name, which KMS would look up in the account of
        /// the credentials the host hands over.
        public var keyID: String
        public var endpointHost: String
        public var endpointPort: Int = 443

        public init(region: String, keyID: String, endpointHost: String? = nil, endpointPort: Int = 443) {
            self.region = region
            self.keyID = keyID
            self.endpointHost = endpointHost ?? "kms.\(region).amazonaws.com"
            self.endpointPort = endpointPort
        }

        /// What emulation uses when the manifest names no key: the emulated KMS makes a key for any key ARN it is
        /// first asked to encrypt under.
        public static let emulationDefault = KMS(region: "us-east-1", keyID: "arn:aws:kms:us-east-1:000000000000:alias/cloister")

        /// Whether `arn` is `arn:PARTITION:kms:REGION:ACCOUNT:key/ID` or `...:alias/NAME` in `region`.
        public static func isKeyARN(_ arn: String, region: String) -> Bool {
            let parts = arn.split(separator: ":", omittingEmptySubsequences: false)
            guard arn.utf8.count <= 2048, parts.count == 6, parts[0] == "arn", ["aws", "aws-cn", "aws-us-gov"].contains(parts[1]), parts[2] == "kms",
                parts[3] == region, parts[4].count == 12, parts[4].allSatisfy({ $0.isASCII && $0.isNumber })
            else { return false }
            let resource = parts[5]
            let name: Substring
            if resource.hasPrefix("key/") {
                name = resource.dropFirst(4)
            } else if resource.hasPrefix("alias/") {
                name = resource.dropFirst(6)
            } else {
                return false
            }
            return (1...256).contains(name.count) && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_/".contains($0)) }
        }

        /// The account the key ARN names.
        public var account: String { String(keyID.split(separator: ":", omittingEmptySubsequences: false)[4]) }

        /// Whether `endpointHost` is one of AWS's KMS endpoints for the region (public, FIPS, or a VPC endpoint's
        /// name): on Nitro, where the roots the enclave trusts also certify names their customers own, nothing else.
        public var isAWSEndpoint: Bool {
            let host = endpointHost.lowercased()
            let suffixes = [".amazonaws.com", ".amazonaws.com.cn"]
            return suffixes.contains { suffix in
                host == "kms.\(region)\(suffix)" || host == "kms-fips.\(region)\(suffix)" || host.hasSuffix(".kms.\(region).vpce\(suffix)")
            }
        }
    }

    /// The deployment log's witnesses: C2SP cosignature verifier keys (`cloister audit witness-keygen` prints one),
    /// how many of them must have cosigned the head an enclave boots from, and how old such a cosignature may be.
    public struct Log: Sendable, Hashable {
        public var witnesses: [NoteVerifierKey] = []
        /// Cosignatures required at boot (0: none, with a warning; emulation's default).
        public var quorum = 0
        /// The oldest cosignature accepted at boot, in seconds before the enclave's clock.
        public var freshSeconds = 600
        public init() {}
        /// The store key under which the host keeps the newest checkpoint `witness` cosigned.
        public static func storeKey(witness: NoteVerifierKey) -> String { "witness/\(witness.name)" }
    }

    public var name: String = "unnamed"
    public var api: API? = nil
    /// Nil: none named (emulation then uses `KMS.emulationDefault`; on Nitro a workload that needs the master fails).
    public var kms: KMS? = nil
    /// X25519 public keys of offline recovery keys (`cloister recovery keygen`): the master is also sealed to each,
    /// so that losing the KMS key does not lose the deployment.
    public var recoveryKeys: [[UInt8]] = []
    /// Who must have seen the deployment log's head before an enclave serves from it (docs/log.md, "Witnesses").
    public var log = Log()
    public var enclave = Enclave()
    public var bridge = Bridge()
    public var ingress: [IngressRoute] = []
    public var egress = Egress()
    public var host = Host()
    /// The other builds (PCR pin sets) this deployment authorises: its enclave accepts the genesis of any of them,
    /// so that an upgrade keeps the deployment's master secret and log. Read with `TrustManifest.parseBuilds`.
    public var builds: [[Int: [UInt8]]] = []

    public init() {}

    /// Why a manifest was refused, with the JSON path of the offending key.
    public struct Error: Swift.Error, Hashable, Sendable, CustomStringConvertible {
        public let path: String
        public let reason: String
        public init(_ path: String, _ reason: String) {
            self.path = path
            self.reason = reason
        }
        public var description: String { path.isEmpty ? "manifest: \(reason)" : "manifest: \(path): \(reason)" }
    }

    /// The largest manifest file read, so that a wrong path (a disk image, say) fails fast.
    public static let maxFileSize = 256 * 1024

    /// Parses and validates a manifest. The `attestation` section is left to `TrustManifest`, which reads the
    /// same file; the enclave's copy of a manifest has none.
    public static func parse(_ json: [UInt8]) throws(Error) -> DeploymentManifest {
        guard json.count <= maxFileSize else { throw Error("", "larger than \(maxFileSize) bytes") }
        let value: JSONValue
        do { value = try JSONValue.parse(json) } catch { throw Error("", "not JSON: \(error)") }
        var m = DeploymentManifest()
        let top = try Reader(value, path: "")
        try top.only(["name", "version", "attestation", "builds", "api", "enclave", "bridge", "ingress", "egress", "host", "kms", "recovery", "log"])
        if let name = try top.string("name") { m.name = name }
        if let builds = top.object["builds"] {
            do { m.builds = try TrustManifest.parseBuilds(builds) } catch { throw Error("builds", error.message) }
        }
        if let e = try top.object("enclave") {
            try e.only(["eif", "binary", "cpuCount", "memoryMiB", "cid", "debugMode"])
            if let v = try e.string("eif") { m.enclave.eif = v }
            m.enclave.binary = try e.string("binary")
            if let v = try e.int("cpuCount", 1...1024) { m.enclave.cpuCount = v }
            if let v = try e.int("memoryMiB", 64...1 << 22) { m.enclave.memoryMiB = v }
            if let v = try e.int("cid", 4...Int(UInt32.max - 1)) { m.enclave.cid = UInt32(v) }
            if let v = try e.bool("debugMode") { m.enclave.debugMode = v }
        }
        if let b = try top.object("bridge") {
            try b.only(["port", "heartbeatMs", "missedHeartbeats", "ingressPool", "maxFrameBytes"])
            if let v = try b.int("port", 1...Int(UInt32.max - 1)) { m.bridge.port = UInt32(v) }
            if let v = try b.int("heartbeatMs", 50...60_000) { m.bridge.heartbeatMs = v }
            if let v = try b.int("missedHeartbeats", 1...100) { m.bridge.missedHeartbeats = v }
            if let v = try b.int("ingressPool", 1...4096) { m.bridge.ingressPool = v }
            if let v = try b.int("maxFrameBytes", 4096...WireFrameLimit.ceiling) { m.bridge.maxFrameBytes = v }
        }
        if let list = try top.array("ingress") {
            var seen = Set<Int>()
            for (i, item) in list.enumerated() {
                let r = try Reader(item, path: "ingress[\(i)]")
                try r.only(["listen", "enclavePort", "workload"])
                guard let listen = try r.string("listen") else { throw Error(r.path, "needs \"listen\": \"HOST:PORT\"") }
                let (host, port) = try hostPort(listen, path: r.path + ".listen")
                guard let enclavePort = try r.int("enclavePort", 1...65535) else { throw Error(r.path, "needs \"enclavePort\"") }
                let workload = try r.string("workload")
                guard seen.insert(port).inserted else { throw Error(r.path + ".listen", "port \(port) is listed twice") }
                m.ingress.append(IngressRoute(listenHost: host, listenPort: port, enclavePort: UInt32(enclavePort), workload: workload))
            }
        }
        if let e = try top.object("egress") {
            try e.only(["proxyPort", "allow"])
            m.egress.proxyPort = try e.int("proxyPort", 1...65535)
            if let list = try e.array("allow") {
                for (i, item) in list.enumerated() {
                    guard let text = item.string else { throw Error("egress.allow[\(i)]", "must be \"HOST:PORT\"") }
                    do { try m.egress.allow.add(text) } catch { throw Error("egress.allow[\(i)]", error.description) }
                }
            }
        }
        if let h = try top.object("host") {
            try h.only(["admin", "ingressHoldMs", "bootTimeoutMs", "restartMinMs", "restartMaxMs", "drainMs"])
            if let admin = try h.string("admin") { (m.host.adminHost, m.host.adminPort) = try hostPort(admin, path: "host.admin") }
            if let v = try h.int("ingressHoldMs", 0...600_000) { m.host.ingressHoldMs = v }
            if let v = try h.int("bootTimeoutMs", 100...600_000) { m.host.bootTimeoutMs = v }
            if let v = try h.int("restartMinMs", 10...600_000) { m.host.restartMinMs = v }
            if let v = try h.int("restartMaxMs", 10...3_600_000) { m.host.restartMaxMs = v }
            if let v = try h.int("drainMs", 0...600_000) { m.host.drainMs = v }
        }
        if let k = try top.object("kms") {
            try k.only(["region", "key", "endpoint"])
            guard let region = try k.string("region"), region.count <= 32,
                region.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") })
            else { throw Error("kms.region", "needs an AWS region such as \"us-east-1\"") }
            guard let key = try k.string("key"), KMS.isKeyARN(key, region: region) else {
                throw Error(
                    "kms.key",
                    "needs the key's ARN or an alias ARN in \(region) (arn:aws:kms:\(region):ACCOUNT:key/ID or ...:alias/NAME): a bare id or alias name would be looked up in the account of whoever signs the request, which the host chooses")
            }
            var kms = KMS(region: region, keyID: key)
            if let endpoint = try k.string("endpoint") {
                let (host, port) = try hostPort(endpoint, path: "kms.endpoint")
                kms.endpointHost = host
                kms.endpointPort = port
            }
            m.kms = kms
        }
        if let r = try top.object("recovery") {
            try r.only(["keys"])
            for (i, item) in (try r.array("keys") ?? []).enumerated() {
                guard let text = item.string, text.count == 64, let key = Hex.decode(text) else {
                    throw Error("recovery.keys[\(i)]", "must be a recovery public key: 64 hex digits (cloister recovery keygen prints it)")
                }
                guard !m.recoveryKeys.contains(key) else { throw Error("recovery.keys[\(i)]", "listed twice") }
                m.recoveryKeys.append(key)
            }
            guard m.recoveryKeys.count <= 8 else { throw Error("recovery.keys", "at most 8 recovery keys") }
        }
        if let l = try top.object("log") {
            try l.only(["witnesses", "quorum", "freshSeconds"])
            for (i, item) in (try l.array("witnesses") ?? []).enumerated() {
                guard let text = item.string, let key = try? NoteVerifierKey(parsing: text), key.type == .cosignatureV1 else {
                    throw Error("log.witnesses[\(i)]", "must be a witness's cosignature verifier key, NAME+KEYID+BASE64 (cloister audit witness-keygen prints it)")
                }
                guard !m.log.witnesses.contains(where: { $0.name == key.name }) else { throw Error("log.witnesses[\(i)]", "a second witness named \(key.name)") }
                m.log.witnesses.append(key)
            }
            guard m.log.witnesses.count <= 16 else { throw Error("log.witnesses", "at most 16 witnesses") }
            if let v = try l.int("quorum", 0...16) { m.log.quorum = v }
            guard m.log.quorum <= m.log.witnesses.count else {
                throw Error("log.quorum", "\(m.log.quorum) cosignatures cannot come from \(m.log.witnesses.count) witnesses")
            }
            if let v = try l.int("freshSeconds", 10...86_400) { m.log.freshSeconds = v }
        }
        if let a = try top.object("api") {
            try a.only([
                "listen", "workload", "maxBodyBytes", "waitMs", "leaseMs", "attestationPerMinute", "attestationBurst", "attestationSlots",
                "anonymousAttestationSlots", "tenantMaxQueuedJobs", "tenantMaxBytesInFlight",
            ])
            var api = API()
            if let listen = try a.string("listen") { (api.listenHost, api.listenPort) = try hostPort(listen, path: "api.listen") }
            if let v = try a.string("workload") { api.workload = v }
            if let v = try a.int("maxBodyBytes", 1...256 * 1024) { api.maxBodyBytes = v }
            if let v = try a.int("waitMs", 0...600_000) { api.waitMs = v }
            if let v = try a.int("leaseMs", 500...3_600_000) { api.leaseMs = v }
            if let v = try a.int("attestationPerMinute", 1...600_000) { api.attestationPerMinute = v }
            if let v = try a.int("attestationBurst", 1...100_000) { api.attestationBurst = v }
            if let v = try a.int("attestationSlots", 1...65_536) { api.attestationSlots = v }
            if let v = try a.int("anonymousAttestationSlots", 0...65_535) { api.anonymousAttestationSlots = v }
            if let v = try a.int("tenantMaxQueuedJobs", 1...50_000) { api.tenantMaxQueuedJobs = v }
            if let v = try a.int("tenantMaxBytesInFlight", 1...(1 << 36)) { api.tenantMaxBytesInFlight = v }
            m.api = api
        }
        try m.validate()
        return m
    }

    /// The KMS the enclave uses: the manifest's, or in emulation the default.
    public func effectiveKMS(emulated: Bool) -> KMS? { kms ?? (emulated ? .emulationDefault : nil) }

    /// Every destination the enclave may reach: `egress.allow` and the KMS endpoint.
    public func egressDestinations(emulated: Bool) -> EgressAllowlist {
        var all = egress.allow
        if let k = effectiveKMS(emulated: emulated) { try? all.add("\(k.endpointHost):\(k.endpointPort)") }
        return all
    }

    /// Checks what single keys cannot: relations between settings.
    public func validate() throws(Error) {
        guard host.restartMinMs <= host.restartMaxMs else { throw Error("host", "restartMinMs is above restartMaxMs") }
        for route in ingress where route.listenPort == host.adminPort && route.listenHost == host.adminHost {
            throw Error("ingress", "listener \(route.listenHost):\(route.listenPort) is the admin port")
        }
        if let api {
            // One job (and one result) must fit in a bridge frame, or the queue could never deliver it.
            let needed = max(api.maxBodyBytes, API.maxResultBytes) + API.frameOverhead
            guard bridge.maxFrameBytes >= needed else {
                throw Error("bridge.maxFrameBytes", "the request path needs at least \(needed) bytes per frame (api.maxBodyBytes or a result, plus overhead)")
            }
            // Some slots must stay for callers with a token, or an anonymous flood would lock them out.
            guard api.anonymousAttestationSlots < api.attestationSlots else {
                throw Error("api.anonymousAttestationSlots", "must be below api.attestationSlots (\(api.attestationSlots)), or no slot is kept for callers with a token")
            }
            guard api.tenantMaxBytesInFlight >= api.maxBodyBytes else {
                throw Error("api.tenantMaxBytesInFlight", "a tenant could never send a body of api.maxBodyBytes (\(api.maxBodyBytes))")
            }
            if api.listenPort == host.adminPort && api.listenHost == host.adminHost {
                throw Error("api.listen", "\(api.listenHost):\(api.listenPort) is the admin port")
            }
            for route in ingress where route.listenPort == api.listenPort && route.listenHost == api.listenHost {
                throw Error("api.listen", "\(api.listenHost):\(api.listenPort) is also an ingress listener")
            }
        }
        if !egress.allow.isEmpty && egress.proxyPort == nil {
            throw Error("egress", "an allowlist without a proxyPort: no workload could use it")
        }
    }

    /// Splits `HOST:PORT` (IPv6 in brackets).
    static func hostPort(_ text: String, path: String) throws(Error) -> (String, Int) {
        do {
            guard case .tcp(let host, let port) = try BridgeAddress("tcp://" + text) else { throw Error(path, "not HOST:PORT") }
            return (host, port)
        } catch let error as BridgeAddress.ParseError {
            throw Error(path, "\"\(text.prefix(100))\" is not HOST:PORT: \(error.reason)")
        } catch {
            throw Error(path, "not HOST:PORT")
        }
    }
}

/// Frame size bounds a manifest may choose from.
public enum WireFrameLimit {
    public static let `default` = 1 << 20
    public static let ceiling = 16 << 20
}

/// Typed, path-aware access to one JSON object of a manifest.
private struct Reader {
    let object: [String: JSONValue]
    let path: String

    init(_ value: JSONValue, path: String) throws(DeploymentManifest.Error) {
        guard let o = value.object else { throw DeploymentManifest.Error(path, "must be an object") }
        object = o
        self.path = path
    }

    func key(_ k: String) -> String { path.isEmpty ? k : path + "." + k }

    func only(_ keys: Set<String>) throws(DeploymentManifest.Error) {
        for k in object.keys.sorted() where !keys.contains(k) {
            throw DeploymentManifest.Error(key(k), "unknown key (known: \(keys.sorted().joined(separator: ", ")))")
        }
    }

    func string(_ k: String) throws(DeploymentManifest.Error) -> String? {
        guard let v = object[k], v != .null else { return nil }
        guard let s = v.string, !s.isEmpty, s.utf8.count <= 4096 else { throw DeploymentManifest.Error(key(k), "must be a non-empty string") }
        return s
    }

    func bool(_ k: String) throws(DeploymentManifest.Error) -> Bool? {
        guard let v = object[k] else { return nil }
        guard let b = v.bool else { throw DeploymentManifest.Error(key(k), "must be true or false") }
        return b
    }

    func int(_ k: String, _ range: ClosedRange<Int>) throws(DeploymentManifest.Error) -> Int? {
        guard let v = object[k], v != .null else { return nil }
        guard let n = v.number, n.rounded() == n, n >= Double(range.lowerBound), n <= Double(range.upperBound) else {
            throw DeploymentManifest.Error(key(k), "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return Int(n)
    }

    func object(_ k: String) throws(DeploymentManifest.Error) -> Reader? {
        guard let v = object[k] else { return nil }
        return try Reader(v, path: key(k))
    }

    func array(_ k: String) throws(DeploymentManifest.Error) -> [JSONValue]? {
        guard let v = object[k] else { return nil }
        guard case .array(let a) = v else { throw DeploymentManifest.Error(key(k), "must be an array") }
        guard a.count <= 1024 else { throw DeploymentManifest.Error(key(k), "more than 1024 entries") }
        return a
    }
}
