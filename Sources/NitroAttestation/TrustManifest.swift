/// Trust pins read from a manifest file: expected PCRs, the other builds the deployment authorises, the
/// deployment's commitment, whether debug mode is allowed, maximum document age.
///
/// Two formats are read as they are:
/// - Cloister's manifest (`Manifests/*.json`): `{"name": ..., "attestation": {"pcrs": {"PCR0": "hex", ...},
///   "deployment": "hex", "allowDebug": false, "maxAgeSeconds": 300}, "builds": [{"PCR0": "hex", ...}, ...], ...}`.
///   Unknown keys are errors; the deployment sections (`enclave`, `bridge`, `ingress`, `egress`, `host`) belong
///   to the host's reader and are skipped here.
/// - What `nitro-cli build-enclave` and `nitro-cli describe-eif` print: `{"Measurements": {"HashAlgorithm":
///   "Sha384 { ... }", "PCR0": "hex", "PCR1": ..., "PCR2": ..., "PCR8": ...}, ...}`, with an optional `builds`
///   array beside `Measurements`.
public struct TrustManifest: Sendable, Hashable {
    /// Pinned PCR values by index.
    public var pcrs: [Int: [UInt8]]
    /// The pins of other builds the deployment authorises (upgrades, or PCR8 alone for signed images): a document
    /// that meets every pin of one of them is accepted too.
    public var builds: [[Int: [UInt8]]]
    /// The deployment's commitment (32 bytes) every document must carry, or nil when the manifest pins none.
    public var deployment: [UInt8]?
    /// Whether debug-mode documents are acceptable (nil: the manifest does not say).
    public var allowDebug: Bool?
    /// Maximum document age in seconds (nil: the manifest does not say).
    public var maxAgeSeconds: Int?
    /// Where the pins came from: "cloister" or "nitro-cli".
    public var format: String

    public init(
        pcrs: [Int: [UInt8]], builds: [[Int: [UInt8]]] = [], deployment: [UInt8]? = nil, allowDebug: Bool? = nil, maxAgeSeconds: Int? = nil,
        format: String = "cloister"
    ) {
        self.pcrs = pcrs
        self.builds = builds
        self.deployment = deployment
        self.allowDebug = allowDebug
        self.maxAgeSeconds = maxAgeSeconds
        self.format = format
    }

    /// Why a manifest was refused.
    public struct Error: Swift.Error, Sendable, Hashable, CustomStringConvertible {
        public let message: String
        public var description: String { "manifest: \(message)" }
        init(_ message: String) { self.message = message }
    }

    /// Top-level sections of a Cloister manifest that other readers own.
    public static let deploymentSections: Set<String> = ["api", "enclave", "bridge", "ingress", "egress", "host"]
    /// Most entries of `builds`.
    public static let maxBuilds = 64

    /// Parses either format from JSON bytes.
    public static func parse(_ json: [UInt8]) throws(Error) -> TrustManifest {
        let value: JSONValue
        do {
            value = try JSONValue.parse(json)
        } catch {
            throw Error("not valid JSON (\(error))")
        }
        guard let top = value.object else { throw Error("the top level must be an object") }
        var builds: [[Int: [UInt8]]] = []
        if let list = top["builds"] { builds = try parseBuilds(list) }
        if let measurements = top["Measurements"] {
            var manifest = try parseNitroCLI(measurements)
            manifest.builds = builds
            return manifest
        }
        for key in top.keys where !["name", "attestation", "version", "builds"].contains(key) && !deploymentSections.contains(key) {
            throw Error("unknown key \"\(key)\"")
        }
        guard let attestation = top["attestation"]?.object else {
            throw Error("no \"attestation\" object (and no nitro-cli \"Measurements\")")
        }
        for key in attestation.keys where !["pcrs", "deployment", "allowDebug", "maxAgeSeconds"].contains(key) {
            throw Error("unknown key \"attestation.\(key)\"")
        }
        guard let pcrObject = attestation["pcrs"]?.object else { throw Error("\"attestation.pcrs\" must be an object") }
        let pcrs = try pins(pcrObject, path: "")
        var deployment: [UInt8]?
        if let v = attestation["deployment"] {
            guard let text = v.string, let bytes = Hex.decode(text), bytes.count == 32 else {
                throw Error("\"attestation.deployment\" must be hex of 32 bytes (the deployment's commitment)")
            }
            deployment = bytes
        }
        var allowDebug: Bool?
        if let v = attestation["allowDebug"] {
            guard let b = v.bool else { throw Error("\"attestation.allowDebug\" must be true or false") }
            allowDebug = b
        }
        var maxAge: Int?
        if let v = attestation["maxAgeSeconds"] {
            guard let n = v.number, n >= 1, n <= 31_536_000, n == n.rounded() else {
                throw Error("\"attestation.maxAgeSeconds\" must be a whole number of seconds from 1 to 31536000")
            }
            maxAge = Int(n)
        }
        // A pin file that pins nothing is a mistake, not a policy: refuse it rather than report "not checked".
        guard !pcrs.isEmpty || !builds.isEmpty else { throw Error("\"attestation.pcrs\" pins no PCR (and no \"builds\" are listed)") }
        return TrustManifest(pcrs: pcrs, builds: builds, deployment: deployment, allowDebug: allowDebug, maxAgeSeconds: maxAge, format: "cloister")
    }

    private static func parseNitroCLI(_ value: JSONValue) throws(Error) -> TrustManifest {
        guard let m = value.object else { throw Error("\"Measurements\" must be an object") }
        if let algorithm = m["HashAlgorithm"] {
            guard let a = algorithm.string, a.lowercased().hasPrefix("sha384") || a.lowercased().hasPrefix("sha512_384") else {
                throw Error("\"Measurements.HashAlgorithm\" must be SHA-384")
            }
        }
        let pcrs = try pins(m.filter { $0.key != "HashAlgorithm" }, path: "")
        guard !pcrs.isEmpty else { throw Error("\"Measurements\" holds no PCR") }
        return TrustManifest(pcrs: pcrs, format: "nitro-cli")
    }

    /// Reads a `builds` array: at most `maxBuilds` objects, each pinning at least one PCR by name (`"PCRn": hex`,
    /// the rules of `attestation.pcrs`; any other key is an error), no two alike.
    public static func parseBuilds(_ value: JSONValue) throws(Error) -> [[Int: [UInt8]]] {
        guard let items = value.items else { throw Error("\"builds\" must be an array of objects {\"PCRn\": hex, ...}") }
        guard items.count <= maxBuilds else { throw Error("\"builds\" lists \(items.count) builds, at most \(maxBuilds) allowed") }
        var builds: [[Int: [UInt8]]] = []
        for (i, item) in items.enumerated() {
            guard let object = item.object else { throw Error("builds[\(i)] must be an object {\"PCRn\": hex, ...}") }
            let build = try pins(object, path: "builds[\(i)].")
            guard !build.isEmpty else { throw Error("builds[\(i)] pins no PCR") }
            if let j = builds.firstIndex(of: build) { throw Error("builds[\(i)] repeats builds[\(j)]") }
            builds.append(build)
        }
        return builds
    }

    /// PCR pins from `{"PCRn": hex, ...}`; `path` prefixes the names in errors.
    private static func pins(_ object: [String: JSONValue], path: String) throws(Error) -> [Int: [UInt8]] {
        var pins: [Int: [UInt8]] = [:]
        for name in object.keys.sorted() {
            pins[try pcrIndex(name, path: path)] = try pcrValue(object[name]!, path + name)
        }
        return pins
    }

    private static func pcrIndex(_ name: String, path: String) throws(Error) -> Int {
        guard name.hasPrefix("PCR"), let i = Int(name.dropFirst(3)), (0..<AttestationDocument.maxPCRCount).contains(i),
            String(i) == name.dropFirst(3)
        else { throw Error("\(path.isEmpty ? "" : "\(path.dropLast()): ")\"\(name)\" is not a PCR name (PCR0 ... PCR31)") }
        return i
    }

    private static func pcrValue(_ value: JSONValue, _ name: String) throws(Error) -> [UInt8] {
        guard let text = value.string, let bytes = Hex.decode(text), AttestationDocument.pcrLengths.contains(bytes.count) else {
            throw Error("\(name) must be hex of 32, 48 or 64 bytes")
        }
        return bytes
    }

    /// The policy these pins ask for; `allowDebug` defaults to false once anything is pinned.
    public func policy(nonce: [UInt8]? = nil, allowDebugOverride: Bool = false) -> AttestationPolicy {
        AttestationPolicy(
            pcrs: pcrs, otherBuilds: builds, nonce: nonce, maxAge: maxAgeSeconds.map { Int64($0) * 1000 },
            allowDebug: allowDebugOverride ? true : (allowDebug ?? false))
    }
}
