/// Trust pins read from a manifest file: expected PCRs, whether debug mode is allowed, maximum document age.
///
/// Two formats are read as they are:
/// - Cloister's manifest (`Manifests/*.json`): `{"name": ..., "attestation": {"pcrs": {"PCR0": "hex", ...},
///   "allowDebug": false, "maxAgeSeconds": 300}, ...}`. Unknown keys are errors; the deployment sections
///   (`enclave`, `bridge`, `ingress`, `egress`, `host`) belong to the host's reader and are skipped here.
/// - What `nitro-cli build-enclave` and `nitro-cli describe-eif` print: `{"Measurements": {"HashAlgorithm":
///   "Sha384 { ... }", "PCR0": "hex", "PCR1": ..., "PCR2": ..., "PCR8": ...}, ...}`.
public struct TrustManifest: Sendable, Hashable {
    /// Pinned PCR values by index.
    public var pcrs: [Int: [UInt8]]
    /// Whether debug-mode documents are acceptable (nil: the manifest does not say).
    public var allowDebug: Bool?
    /// Maximum document age in seconds (nil: the manifest does not say).
    public var maxAgeSeconds: Int?
    /// Where the pins came from: "cloister" or "nitro-cli".
    public var format: String

    public init(pcrs: [Int: [UInt8]], allowDebug: Bool? = nil, maxAgeSeconds: Int? = nil, format: String = "cloister") {
        self.pcrs = pcrs
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

    /// Parses either format from JSON bytes.
    public static func parse(_ json: [UInt8]) throws(Error) -> TrustManifest {
        let value: JSONValue
        do {
            value = try JSONValue.parse(json)
        } catch {
            throw Error("not valid JSON (\(error))")
        }
        guard let top = value.object else { throw Error("the top level must be an object") }
        if let measurements = top["Measurements"] {
            return try parseNitroCLI(measurements)
        }
        for key in top.keys where key != "name" && key != "attestation" && key != "version" && !deploymentSections.contains(key) {
            throw Error("unknown key \"\(key)\"")
        }
        guard let attestation = top["attestation"]?.object else {
            throw Error("no \"attestation\" object (and no nitro-cli \"Measurements\")")
        }
        for key in attestation.keys where !["pcrs", "allowDebug", "maxAgeSeconds"].contains(key) {
            throw Error("unknown key \"attestation.\(key)\"")
        }
        guard let pcrObject = attestation["pcrs"]?.object else { throw Error("\"attestation.pcrs\" must be an object") }
        var pcrs: [Int: [UInt8]] = [:]
        for (name, value) in pcrObject {
            let index = try pcrIndex(name)
            pcrs[index] = try pcrValue(value, name)
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
        guard !pcrs.isEmpty else { throw Error("\"attestation.pcrs\" pins no PCR") }
        return TrustManifest(pcrs: pcrs, allowDebug: allowDebug, maxAgeSeconds: maxAge, format: "cloister")
    }

    private static func parseNitroCLI(_ value: JSONValue) throws(Error) -> TrustManifest {
        guard let m = value.object else { throw Error("\"Measurements\" must be an object") }
        if let algorithm = m["HashAlgorithm"] {
            guard let a = algorithm.string, a.lowercased().hasPrefix("sha384") || a.lowercased().hasPrefix("sha512_384") else {
                throw Error("\"Measurements.HashAlgorithm\" must be SHA-384")
            }
        }
        var pcrs: [Int: [UInt8]] = [:]
        for (name, value) in m where name != "HashAlgorithm" {
            pcrs[try pcrIndex(name)] = try pcrValue(value, name)
        }
        guard !pcrs.isEmpty else { throw Error("\"Measurements\" holds no PCR") }
        return TrustManifest(pcrs: pcrs, format: "nitro-cli")
    }

    private static func pcrIndex(_ name: String) throws(Error) -> Int {
        guard name.hasPrefix("PCR"), let i = Int(name.dropFirst(3)), (0..<AttestationDocument.maxPCRCount).contains(i),
            String(i) == name.dropFirst(3)
        else { throw Error("\"\(name)\" is not a PCR name (PCR0 ... PCR31)") }
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
            pcrs: pcrs, nonce: nonce, maxAge: maxAgeSeconds.map { Int64($0) * 1000 },
            allowDebug: allowDebugOverride ? true : (allowDebug ?? false))
    }
}
