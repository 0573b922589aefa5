import CBOR

/// The payload of a Nitro attestation document, checked against every syntactic rule AWS publishes.
///
/// Parsing proves nothing about authenticity: use `AttestationVerifier` for that.
public struct AttestationDocument: Sendable, Hashable {
    /// Identifier of the enclave's secure module (on EC2, `i-...-enc...`).
    public var moduleID: String
    /// Digest used for the PCRs; always "SHA384".
    public var digest: String
    /// When the document was made, in milliseconds since the Unix epoch (UTC).
    public var timestamp: UInt64
    /// Platform configuration registers by index.
    public var pcrs: [Int: [UInt8]]
    /// The leaf certificate (DER) whose key signed the document.
    public var certificate: [UInt8]
    /// The issuing chain (DER): root first, then intermediates towards the leaf.
    public var cabundle: [[UInt8]]
    /// Optional key the enclave chose to bind (nil when absent or CBOR null).
    public var publicKey: [UInt8]?
    /// Optional application data (nil when absent or CBOR null).
    public var userData: [UInt8]?
    /// Optional nonce (nil when absent or CBOR null).
    public var nonce: [UInt8]?

    /// The payload map's keys, in the order AWS writes them.
    public static let fieldOrder = [
        "module_id", "digest", "timestamp", "pcrs", "certificate", "cabundle", "public_key", "user_data", "nonce",
    ]
    /// Largest public_key, user_data or nonce real hardware emits (AWS's prose says 512; devices emit 1024).
    public static let maxOptionalFieldLength = 1024
    /// Largest certificate or cabundle entry.
    public static let maxCertificateLength = 1024
    /// Most PCRs a document may carry.
    public static let maxPCRCount = 32
    /// Sizes a PCR value may have (SHA-256, SHA-384, SHA-512).
    public static let pcrLengths: Set<Int> = [32, 48, 64]

    public init(
        moduleID: String, digest: String = "SHA384", timestamp: UInt64, pcrs: [Int: [UInt8]], certificate: [UInt8],
        cabundle: [[UInt8]], publicKey: [UInt8]? = nil, userData: [UInt8]? = nil, nonce: [UInt8]? = nil
    ) {
        self.moduleID = moduleID
        self.digest = digest
        self.timestamp = timestamp
        self.pcrs = pcrs
        self.certificate = certificate
        self.cabundle = cabundle
        self.publicKey = publicKey
        self.userData = userData
        self.nonce = nonce
    }

    /// Parses a payload's bytes (as carried in COSE_Sign1) and applies AWS's rules.
    public init(payload: [UInt8]) throws(AttestationError) {
        let item: CBOR
        do {
            item = try CBORDecoder(limits: Self.payloadLimits).decode(payload)
        } catch {
            throw AttestationError(.invalidPayload, "payload is not well-formed CBOR: \(error)", underlying: error)
        }
        try self.init(item)
    }

    /// Applies AWS's rules to a decoded payload map.
    public init(_ item: CBOR) throws(AttestationError) {
        guard let map = item.map else {
            throw AttestationError(.invalidPayload, "payload is a \(item.kindName), not a map")
        }
        var fields: [String: CBOR] = [:]
        for entry in map {
            guard let key = entry.key.text, Self.fieldOrder.contains(key) else {
                throw AttestationError(.unexpectedField, "payload has unexpected key \(entry.key)")
            }
            fields[key] = entry.value
        }

        guard let moduleID = fields["module_id"]?.text, !moduleID.isEmpty else {
            throw AttestationError(.invalidModuleID, "module_id must be non-empty text, found \(Self.describe(fields["module_id"]))")
        }
        guard let digest = fields["digest"]?.text, digest == "SHA384" else {
            throw AttestationError(.invalidDigest, "digest must be \"SHA384\", found \(Self.describe(fields["digest"]))")
        }
        guard let timestamp = fields["timestamp"]?.uint64, timestamp > 0 else {
            throw AttestationError(.invalidTimestamp, "timestamp must be an unsigned integer > 0 (ms), found \(Self.describe(fields["timestamp"]))")
        }
        guard let pcrMap = fields["pcrs"]?.map, (1...Self.maxPCRCount).contains(pcrMap.count) else {
            throw AttestationError(.invalidPCRs, "pcrs must be a map of 1...32 entries, found \(Self.describe(fields["pcrs"]))")
        }
        var pcrs: [Int: [UInt8]] = [:]
        for entry in pcrMap {
            guard let index = entry.key.uint64, index < UInt64(Self.maxPCRCount) else {
                throw AttestationError(.invalidPCRIndex, "PCR index \(entry.key) is not an integer in 0...31")
            }
            guard let value = entry.value.bytes, Self.pcrLengths.contains(value.count) else {
                throw AttestationError(.invalidPCRLength, "PCR\(index) is \(Self.describe(entry.value)), expected 32, 48 or 64 bytes")
            }
            pcrs[Int(index)] = value
        }
        guard let certificate = fields["certificate"]?.bytes, (1...Self.maxCertificateLength).contains(certificate.count) else {
            throw AttestationError(.invalidCertificate, "certificate must be 1...1024 bytes, found \(Self.describe(fields["certificate"]))")
        }
        guard let bundle = fields["cabundle"]?.array, !bundle.isEmpty else {
            throw AttestationError(.invalidCABundle, "cabundle must be a non-empty array, found \(Self.describe(fields["cabundle"]))")
        }
        var cabundle: [[UInt8]] = []
        for (i, entry) in bundle.enumerated() {
            guard let der = entry.bytes, (1...Self.maxCertificateLength).contains(der.count) else {
                throw AttestationError(.invalidCABundleEntry, "cabundle[\(i)] must be 1...1024 bytes, found \(Self.describe(entry))")
            }
            cabundle.append(der)
        }

        self.moduleID = moduleID
        self.digest = digest
        self.timestamp = timestamp
        self.pcrs = pcrs
        self.certificate = certificate
        self.cabundle = cabundle
        self.publicKey = try Self.optionalBytes(fields["public_key"], "public_key", .invalidPublicKey)
        self.userData = try Self.optionalBytes(fields["user_data"], "user_data", .invalidUserData)
        self.nonce = try Self.optionalBytes(fields["nonce"], "nonce", .invalidNonce)
    }

    /// True when PCR0, PCR1 and PCR2 are all zero: the enclave runs in debug mode, and its console is readable.
    public var isDebugMode: Bool {
        [0, 1, 2].allSatisfy { index in pcrs[index].map { $0.allSatisfy { $0 == 0 } } ?? false }
    }

    /// The payload map in AWS's key order, absent optional fields as null.
    public var cbor: CBOR {
        let pcrEntries = pcrs.keys.sorted().map { (CBOR.unsigned(UInt64($0)), CBOR.bytes(pcrs[$0]!)) }
        func optional(_ b: [UInt8]?) -> CBOR { b.map { .bytes($0) } ?? .null }
        return .map(
            CBORMap([
                ("module_id", .text(moduleID)),
                ("digest", .text(digest)),
                ("timestamp", .unsigned(timestamp)),
                ("pcrs", .map(CBORMap(pcrEntries))),
                ("certificate", .bytes(certificate)),
                ("cabundle", .array(cabundle.map { .bytes($0) })),
                ("public_key", optional(publicKey)),
                ("user_data", optional(userData)),
                ("nonce", optional(nonce)),
            ]))
    }

    /// Bounds for decoding a payload: far above any real document, far below anything harmful.
    static let payloadLimits = CBORDecoder.Limits(maxInputSize: 64 * 1024, maxDepth: 4, maxItems: 1024)

    private static func optionalBytes(_ value: CBOR?, _ name: String, _ code: AttestationError.Code) throws(AttestationError) -> [UInt8]? {
        switch value {
        case nil, .null?:
            return nil
        case .bytes(let b)? where b.count <= maxOptionalFieldLength:
            return b
        default:
            throw AttestationError(code, "\(name) must be null or at most 1024 bytes, found \(describe(value))")
        }
    }

    static func describe(_ value: CBOR?) -> String {
        guard let value else { return "nothing (missing)" }
        switch value {
        case .text(let s): return "text \"\(s.prefix(40))\""
        case .unsigned(let n): return "integer \(n)"
        default: return COSESign1.describe(value)
        }
    }
}
