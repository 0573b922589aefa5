import NitroAttestation

/// What the software module measures at boot, standing in for what Nitro measures of an EIF.
public struct EnclaveImage: Sendable, Hashable {
    /// The enclave executable that is really running (its bytes).
    public var executable: [UInt8]
    /// The manifest it runs with (its bytes), if any.
    public var manifest: [UInt8]?
    /// The parent instance's IAM role, if any (PCR3).
    public var parentRole: String?
    /// The parent instance's id (PCR4).
    public var instanceID: String?
    /// The DER of the image's signing certificate, if signed (PCR8).
    public var signingCertificate: [UInt8]?
    /// Debug mode: PCR0, PCR1 and PCR2 read as zero, as on Nitro.
    public var debug: Bool

    public init(executable: [UInt8], manifest: [UInt8]? = nil, parentRole: String? = nil, instanceID: String? = nil, signingCertificate: [UInt8]? = nil, debug: Bool = false) {
        self.executable = executable
        self.manifest = manifest
        self.parentRole = parentRole
        self.instanceID = instanceID
        self.signingCertificate = signingCertificate
        self.debug = debug
    }

    /// The PCRs the software module reports at boot, by index (absent ones are zero).
    ///
    /// As nitro-cli measures an EIF, each is one extend of a zero register by the SHA-384 of its input:
    /// PCR0 the whole image (executable then manifest), PCR1 the executable, PCR2 the manifest,
    /// PCR3 the role, PCR4 the instance id, PCR8 the signing certificate.
    public var measurements: [Int: [UInt8]] {
        var pcrs: [Int: [UInt8]] = [:]
        let manifestBytes = manifest ?? []
        pcrs[0] = debug ? PCRBank.zero : Self.measure(executable + manifestBytes)
        pcrs[1] = debug ? PCRBank.zero : Self.measure(executable)
        pcrs[2] = debug ? PCRBank.zero : Self.measure(manifestBytes)
        if let parentRole { pcrs[3] = Self.measure(Array(parentRole.utf8)) }
        if let instanceID { pcrs[4] = Self.measure(Array(instanceID.utf8)) }
        if let signingCertificate { pcrs[8] = Self.measure(signingCertificate) }
        return pcrs
    }

    /// SHA384(48 zero bytes ‖ SHA384(data)): one extend of a zero register by the data's digest.
    public static func measure(_ data: [UInt8]) -> [UInt8] { SHA.sha384(PCRBank.zero + SHA.sha384(data)) }

    /// The measurements as `nitro-cli build-enclave` prints them: `{"Measurements": {"HashAlgorithm": ..., "PCRn": hex}}`.
    public var nitroCLIJSON: String {
        var lines = ["{", "  \"Measurements\": {", "    \"HashAlgorithm\": \"Sha384 { ... }\","]
        let present = measurements.filter { $0.key <= 2 || $0.key == 8 }.sorted { $0.key < $1.key }
        for (i, entry) in present.enumerated() {
            lines.append("    \"PCR\(entry.key)\": \"\(Hex.encode(entry.value))\"" + (i == present.count - 1 ? "" : ","))
        }
        lines += ["  }", "}"]
        return lines.joined(separator: "\n")
    }
}
