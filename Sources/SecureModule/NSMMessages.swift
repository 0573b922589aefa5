import CBOR

/// The PCR digest a module uses.
public enum NSMDigest: String, Sendable, Hashable, CaseIterable {
    case sha256 = "SHA256", sha384 = "SHA384", sha512 = "SHA512"

    /// Bytes in one PCR.
    public var length: Int {
        switch self {
        case .sha256: return 32
        case .sha384: return 48
        case .sha512: return 64
        }
    }
}

/// What `describe` reports.
public struct NSMDescription: Sendable, Hashable {
    public var versionMajor: UInt16
    public var versionMinor: UInt16
    public var versionPatch: UInt16
    public var moduleID: String
    public var maxPCRs: UInt16
    /// Locked PCR indexes, ascending.
    public var lockedPCRs: [UInt16]
    public var digest: NSMDigest

    public init(versionMajor: UInt16, versionMinor: UInt16, versionPatch: UInt16, moduleID: String, maxPCRs: UInt16, lockedPCRs: [UInt16], digest: NSMDigest) {
        self.versionMajor = versionMajor
        self.versionMinor = versionMinor
        self.versionPatch = versionPatch
        self.moduleID = moduleID
        self.maxPCRs = maxPCRs
        self.lockedPCRs = lockedPCRs
        self.digest = digest
    }
}

/// A request to the NSM, encoded exactly as AWS's nsm-api (serde_cbor, externally tagged enums) encodes it:
/// unit variants as a text string, struct variants as `{"Name": {field: value, ...}}` in declaration order,
/// byte fields as byte strings, absent options as null.
public enum NSMRequest: Sendable, Hashable {
    case describePCR(index: UInt16)
    case extendPCR(index: UInt16, data: [UInt8])
    case lockPCR(index: UInt16)
    case lockPCRs(range: UInt16)
    case describeNSM
    case attestation(userData: [UInt8]?, nonce: [UInt8]?, publicKey: [UInt8]?)
    case getRandom

    /// Largest encoded request the device takes.
    public static let maxEncodedSize = 0x1000

    public var cbor: CBOR {
        func variant(_ name: String, _ fields: [(String, CBOR)]) -> CBOR {
            .map(CBORMap([(.text(name), .map(CBORMap(fields.map { (.text($0.0), $0.1) })))]))
        }
        func optional(_ b: [UInt8]?) -> CBOR { b.map { .bytes($0) } ?? .null }
        switch self {
        case .describePCR(let i): return variant("DescribePCR", [("index", .unsigned(UInt64(i)))])
        case .extendPCR(let i, let d): return variant("ExtendPCR", [("index", .unsigned(UInt64(i))), ("data", .bytes(d))])
        case .lockPCR(let i): return variant("LockPCR", [("index", .unsigned(UInt64(i)))])
        case .lockPCRs(let r): return variant("LockPCRs", [("range", .unsigned(UInt64(r)))])
        case .describeNSM: return .text("DescribeNSM")
        case .attestation(let u, let n, let p):
            return variant("Attestation", [("user_data", optional(u)), ("nonce", optional(n)), ("public_key", optional(p))])
        case .getRandom: return .text("GetRandom")
        }
    }

    public var encoded: [UInt8] { CBOREncoder.encode(cbor) }

    /// Decodes a request (what the software module receives); unknown fields are ignored, as serde does.
    public init(_ bytes: [UInt8]) throws(NSMError) {
        guard bytes.count <= Self.maxEncodedSize else { throw NSMError(.inputTooLarge, "request of \(bytes.count) bytes") }
        let (name, body) = try NSMWire.variant(bytes)
        switch name {
        case "DescribeNSM" where body == nil: self = .describeNSM
        case "GetRandom" where body == nil: self = .getRandom
        case "DescribePCR": self = .describePCR(index: try NSMWire.u16(body, "index"))
        case "LockPCR": self = .lockPCR(index: try NSMWire.u16(body, "index"))
        case "LockPCRs": self = .lockPCRs(range: try NSMWire.u16(body, "range"))
        case "ExtendPCR": self = .extendPCR(index: try NSMWire.u16(body, "index"), data: try NSMWire.bytes(body, "data"))
        case "Attestation":
            self = .attestation(
                userData: try NSMWire.optionalBytes(body, "user_data"), nonce: try NSMWire.optionalBytes(body, "nonce"),
                publicKey: try NSMWire.optionalBytes(body, "public_key"))
        default: throw NSMError(.invalidOperation, "unknown request \(name)")
        }
    }
}

/// A response from the NSM, encoded as nsm-api encodes it.
public enum NSMResponse: Sendable, Hashable {
    case describePCR(locked: Bool, data: [UInt8])
    case extendPCR(data: [UInt8])
    case lockPCR
    case lockPCRs
    case describeNSM(NSMDescription)
    case attestation(document: [UInt8])
    case getRandom(random: [UInt8])
    case error(NSMError.Code)

    /// Largest response the device writes.
    public static let maxEncodedSize = 0x3000

    public var cbor: CBOR {
        func variant(_ name: String, _ fields: [(String, CBOR)]) -> CBOR {
            .map(CBORMap([(.text(name), .map(CBORMap(fields.map { (.text($0.0), $0.1) })))]))
        }
        switch self {
        case .describePCR(let l, let d): return variant("DescribePCR", [("lock", .bool(l)), ("data", .bytes(d))])
        case .extendPCR(let d): return variant("ExtendPCR", [("data", .bytes(d))])
        case .lockPCR: return .text("LockPCR")
        case .lockPCRs: return .text("LockPCRs")
        case .describeNSM(let d):
            return variant("DescribeNSM", [
                ("version_major", .unsigned(UInt64(d.versionMajor))), ("version_minor", .unsigned(UInt64(d.versionMinor))),
                ("version_patch", .unsigned(UInt64(d.versionPatch))), ("module_id", .text(d.moduleID)),
                ("max_pcrs", .unsigned(UInt64(d.maxPCRs))), ("locked_pcrs", .array(d.lockedPCRs.sorted().map { .unsigned(UInt64($0)) })),
                ("digest", .text(d.digest.rawValue)),
            ])
        case .attestation(let doc): return variant("Attestation", [("document", .bytes(doc))])
        case .getRandom(let r): return variant("GetRandom", [("random", .bytes(r))])
        case .error(let code): return .map(CBORMap([(.text("Error"), .text(code.rawValue))]))
        }
    }

    public var encoded: [UInt8] { CBOREncoder.encode(cbor) }

    /// Decodes a response from the device. Anything unexpected is `InvalidResponse`, never a crash.
    public init(_ bytes: [UInt8]) throws(NSMError) {
        guard bytes.count <= Self.maxEncodedSize else { throw NSMError(.invalidResponse, "response of \(bytes.count) bytes") }
        let (name, body) = try NSMWire.variant(bytes, failure: .invalidResponse)
        do throws(NSMError) {
            switch name {
            case "LockPCR" where body == nil: self = .lockPCR
            case "LockPCRs" where body == nil: self = .lockPCRs
            case "Error":
                guard let text = body?.text, let code = NSMError.Code(rawValue: text) else {
                    throw NSMError(.invalidResponse, "unknown error \(String(describing: body))")
                }
                self = .error(code)
            case "DescribePCR":
                guard let locked = NSMWire.field(body, "lock")?.bool else { throw NSMError(.invalidResponse, "DescribePCR.lock") }
                self = .describePCR(locked: locked, data: try NSMWire.bytes(body, "data"))
            case "ExtendPCR": self = .extendPCR(data: try NSMWire.bytes(body, "data"))
            case "Attestation": self = .attestation(document: try NSMWire.bytes(body, "document"))
            case "GetRandom": self = .getRandom(random: try NSMWire.bytes(body, "random"))
            case "DescribeNSM":
                guard let locked = NSMWire.field(body, "locked_pcrs")?.array,
                    let digestName = NSMWire.field(body, "digest")?.text, let digest = NSMDigest(rawValue: digestName),
                    let moduleID = NSMWire.field(body, "module_id")?.text
                else { throw NSMError(.invalidResponse, "DescribeNSM fields") }
                var indexes: [UInt16] = []
                for item in locked {
                    guard let i = item.uint64, i <= UInt64(UInt16.max) else { throw NSMError(.invalidResponse, "locked_pcrs") }
                    indexes.append(UInt16(i))
                }
                self = .describeNSM(NSMDescription(
                    versionMajor: try NSMWire.u16(body, "version_major"), versionMinor: try NSMWire.u16(body, "version_minor"),
                    versionPatch: try NSMWire.u16(body, "version_patch"), moduleID: moduleID,
                    maxPCRs: try NSMWire.u16(body, "max_pcrs"), lockedPCRs: indexes, digest: digest))
            default: throw NSMError(.invalidResponse, "unknown response \(name)")
            }
        } catch {
            throw NSMError(.invalidResponse, error.message)
        }
    }
}

/// serde_cbor's externally tagged enum shapes.
enum NSMWire {
    static let limits = CBORDecoder.Limits(maxInputSize: NSMResponse.maxEncodedSize, maxDepth: 4, maxItems: 256)

    /// (variant name, body): a bare text string is a unit variant (body nil); `{"Name": body}` otherwise.
    static func variant(_ bytes: [UInt8], failure: NSMError.Code = .invalidArgument) throws(NSMError) -> (String, CBOR?) {
        let item: CBOR
        do { item = try CBORDecoder(limits: limits).decode(bytes) } catch { throw NSMError(failure, "not CBOR: \(error)") }
        if let name = item.text { return (name, nil) }
        guard let map = item.map, map.count == 1, let name = map.entries[0].key.text else {
            throw NSMError(failure, "not an NSM message")
        }
        return (name, map.entries[0].value)
    }

    static func field(_ body: CBOR?, _ name: String) -> CBOR? { body?.map?[.text(name)] }

    static func u16(_ body: CBOR?, _ name: String) throws(NSMError) -> UInt16 {
        guard let v = field(body, name)?.uint64, v <= UInt64(UInt16.max) else { throw NSMError(.invalidArgument, "\(name) must be a u16") }
        return UInt16(v)
    }

    static func bytes(_ body: CBOR?, _ name: String) throws(NSMError) -> [UInt8] {
        guard let v = field(body, name)?.bytes else { throw NSMError(.invalidArgument, "\(name) must be a byte string") }
        return v
    }

    static func optionalBytes(_ body: CBOR?, _ name: String) throws(NSMError) -> [UInt8]? {
        switch field(body, name) {
        case nil, .null?: return nil
        case .bytes(let b)?: return b
        default: throw NSMError(.invalidArgument, "\(name) must be null or a byte string")
        }
    }
}
