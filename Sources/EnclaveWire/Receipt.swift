import CBOR
import NitroAttestation

/// One link of a boot's receipt chain: what the enclave did for one job. Receipts are encoded
/// deterministically, hashed as encoded, and chained: `previous` is the hash of the receipt before it in the
/// same boot (32 zero bytes for the first), and `boot` is the hash of the boot's attestation document, so the
/// first receipt of a boot names the document that attests the key sealing the chain.
///
/// Wire form (CBOR map, text keys, in this order): `v` 1, `boot` bstr32, `seq` uint ≥ 1, `prev` bstr32,
/// `job` tstr (the request id), `tenant` tstr, `op` tstr, `req` bstr32 (the request hash), `res` bstr32
/// (SHA-256 of the result bytes), `status` tstr (`ok` or an error code), `time` uint (enclave clock, ms); and, where
/// the workload knows them, `troot` bstr32 (the tenant's root: the id of the credential the tenant came into being
/// with, so that a client notices a tenant of the same name made by someone else) and `by` [bstr32, ...] (the
/// credentials that approved the action, distinct, in order).
public struct Receipt: Sendable, Hashable {
    public var boot: [UInt8]
    public var sequence: UInt64
    public var previous: [UInt8]
    public var requestID: String
    public var tenant: String
    public var operation: String
    public var requestHash: [UInt8]
    public var resultHash: [UInt8]
    public var status: String
    public var time: UInt64
    public var tenantRoot: [UInt8]?
    public var approvers: [[UInt8]]?

    public static let version: UInt64 = 1
    /// The `prev` of a boot's first receipt.
    public static let genesis = [UInt8](repeating: 0, count: 32)
    /// Largest encoded receipt read.
    public static let maxSize = 2048

    public init(
        boot: [UInt8], sequence: UInt64, previous: [UInt8], requestID: String, tenant: String, operation: String,
        requestHash: [UInt8], resultHash: [UInt8], status: String, time: UInt64, tenantRoot: [UInt8]? = nil, approvers: [[UInt8]]? = nil
    ) {
        self.boot = boot
        self.sequence = sequence
        self.previous = previous
        self.requestID = requestID
        self.tenant = tenant
        self.operation = operation
        self.requestHash = requestHash
        self.resultHash = resultHash
        self.status = status
        self.time = time
        self.tenantRoot = tenantRoot
        self.approvers = approvers
    }

    /// The deterministic encoding; its SHA-256 is the receipt's hash.
    public var encoded: [UInt8] {
        var map: CBORMap = [
            "v": .unsigned(Self.version), "boot": .bytes(boot), "seq": .unsigned(sequence), "prev": .bytes(previous),
            "job": .text(requestID), "tenant": .text(tenant), "op": .text(operation), "req": .bytes(requestHash),
            "res": .bytes(resultHash), "status": .text(status), "time": .unsigned(time),
        ]
        if let tenantRoot { map[.text("troot")] = .bytes(tenantRoot) }
        if let approvers { map[.text("by")] = .array(approvers.map { .bytes($0) }) }
        return CBOREncoder.encode(.map(map))
    }

    /// The hash the next receipt's `prev` carries.
    public static func hash(encoded: [UInt8]) -> [UInt8] { SHA.sha256(encoded) }

    /// Parses an encoded receipt strictly. The bytes must also be the deterministic encoding of what they hold,
    /// so that one receipt has exactly one hash.
    public init(encoded bytes: [UInt8]) throws(EnvelopeError) {
        // The deterministic form is read directly (an audit reads millions); anything else goes through the general
        // decoder, which refuses it and names why.
        if let receipt = Self.direct(bytes) {
            self = receipt
        } else {
            try self.init(decoding: bytes)
        }
    }

    /// `init(encoded:)` through the general CBOR decoder, which names what is wrong with bytes that are not a receipt.
    init(decoding bytes: [UInt8]) throws(EnvelopeError) {
        let item = try CBORFields.decode(bytes, what: "receipt", maxSize: Self.maxSize, maxDepth: 2, maxItems: 32 + SealedRequest.maxApprovals)
        let f = try CBORFields(
            item, what: "receipt", required: ["v", "boot", "seq", "prev", "job", "tenant", "op", "req", "res", "status", "time"],
            optional: ["troot", "by"])
        guard try f.uint("v") == Self.version else { throw EnvelopeError(.unsupportedVersion, "receipt version \(try f.uint("v"))") }
        self.init(
            boot: try f.bytes("boot", count: 32), sequence: try f.uint("seq"), previous: try f.bytes("prev", count: 32),
            requestID: try f.text("job", max: RequestLimits.maxRequestIDBytes), tenant: try f.text("tenant", max: RequestLimits.maxNameBytes),
            operation: try f.text("op", max: RequestLimits.maxNameBytes), requestHash: try f.bytes("req", count: 32),
            resultHash: try f.bytes("res", count: 32), status: try f.text("status", max: RequestLimits.maxNameBytes),
            time: try f.uint("time"), tenantRoot: f.has("troot") ? try f.bytes("troot", count: 32) : nil,
            approvers: f.has("by") ? try f.array("by", max: SealedRequest.maxApprovals).map { (a: CBOR) throws(EnvelopeError) -> [UInt8] in
                guard let b = a.bytes, b.count == 32 else { throw EnvelopeError(.malformed, "receipt.by holds credential ids of 32 bytes") }
                return b
            } : nil)
        guard sequence >= 1 else { throw EnvelopeError(.malformed, "receipt.seq must be at least 1") }
        guard RequestLimits.isValidRequestID(requestID), RequestLimits.isValidName(tenant), RequestLimits.isValidName(operation),
            RequestLimits.isValidStatus(status)
        else { throw EnvelopeError(.malformed, "receipt names (job, tenant, op, status) must be within RequestLimits") }
        guard encoded == bytes else { throw EnvelopeError(.malformed, "receipt is not in its deterministic encoding") }
    }
}

/// Bounds on the names and ids a request carries, shared by host, enclave and client.
public enum RequestLimits {
    /// Request ids: 1 to 64 bytes of `A-Z a-z 0-9 - _ . :`.
    public static let maxRequestIDBytes = 64
    /// Operation, tenant and status names: 1 to 64 bytes.
    public static let maxNameBytes = 64

    /// Whether `id` is a request id the API accepts.
    public static func isValidRequestID(_ id: some StringProtocol) -> Bool {
        isToken(id, max: maxRequestIDBytes)
    }

    /// Whether `status` is a status the enclave may sign: `ok` or an error code, 1 to 64 of `A-Z a-z 0-9 - _ . :`.
    public static func isValidStatus(_ status: some StringProtocol) -> Bool { isToken(status, max: maxNameBytes) }

    /// Whether `name` is an operation or tenant name the API accepts: 1 to 64 of `a-z 0-9 - _ .`, and it
    /// starts with a letter or digit.
    public static func isValidName(_ name: some StringProtocol) -> Bool {
        let u = Array(name.utf8)
        guard !u.isEmpty, u.count <= maxNameBytes, isLowerAlnum(u[0]) else { return false }
        return u.allSatisfy { isLowerAlnum($0) || $0 == 0x2D || $0 == 0x5F || $0 == 0x2E }
    }

    static func isToken(_ s: some StringProtocol, max: Int) -> Bool {
        let u = Array(s.utf8)
        guard !u.isEmpty, u.count <= max else { return false }
        return u.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F || c == 0x2E || c == 0x3A
        }
    }

    private static func isLowerAlnum(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7A) }
}

/// The request hash both the client and the enclave compute: SHA-256 of the deterministic CBOR array
/// `["cloister-request/2", tenant, op, request id, body]`. The host cannot change the tenant, the operation, the id
/// or a byte of the body without the enclave's receipt showing a hash the client did not send. (A sealed body is
/// hashed as sealed: a receipt never commits to a plaintext.)
public enum RequestDigest {
    public static let domain = "cloister-request/2"

    public static func hash(tenant: String, operation: String, requestID: String, body: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(body.count + 128)
        CBOREncoder.appendHead(major: 4, 5, to: &out)
        CBOREncoder.append(.text(domain), to: &out)
        CBOREncoder.append(.text(tenant), to: &out)
        CBOREncoder.append(.text(operation), to: &out)
        CBOREncoder.append(.text(requestID), to: &out)
        CBOREncoder.appendHead(major: 2, UInt64(body.count), to: &out)
        out.append(contentsOf: body)
        return SHA.sha256(out)
    }
}
