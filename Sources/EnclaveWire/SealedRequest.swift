import CBOR
import NitroAttestation

/// The body of a call that carries a secret or a signed action. The request itself (the operation's body and
/// the key its result is to be sealed to) is HPKE-encrypted (RFC 9180 base mode, X25519, HKDF-SHA256,
/// AES-256-GCM) to the HPKE key of the boot it is addressed to, with deployment, tenant, operation and request id
/// in HPKE's `info`: the host carries ciphertext only. The signature, by one of the tenant's credentials, is over
/// the `Action` that binds the hash of these sealed bytes.
///
/// Wire form: CBOR map `{"v": 1, "boot": bstr32, "enc": bstr32, "ct": bstr, "expiry": uint, ? "approvals":
/// [Approval, ...]}` (1 to 16 approvals: a signed action; none: a sealed request only).
public struct SealedRequest: Sendable, Hashable {
    public var boot: [UInt8]
    public var enc: [UInt8]
    public var ciphertext: [UInt8]
    public var expiry: UInt64
    /// The credentials' signatures over the action digest, in the order they were given.
    public var approvals: [Approval]

    /// Largest sealed request (the API's bodies are smaller).
    public static let maxSize = 256 * 1024
    /// Most approvals one request carries.
    public static let maxApprovals = 16

    public init(boot: [UInt8], enc: [UInt8], ciphertext: [UInt8], expiry: UInt64, approvals: [Approval] = []) {
        self.boot = boot
        self.enc = enc
        self.ciphertext = ciphertext
        self.expiry = expiry
        self.approvals = approvals
    }

    public var encoded: [UInt8] {
        var map: CBORMap = ["v": .unsigned(1), "boot": .bytes(boot), "enc": .bytes(enc), "ct": .bytes(ciphertext), "expiry": .unsigned(expiry)]
        if !approvals.isEmpty { map[.text("approvals")] = .array(approvals.map(\.cbor)) }
        return CBOREncoder.encode(.map(map))
    }

    public init(encoded bytes: [UInt8]) throws(EnvelopeError) {
        let item = try CBORFields.decode(bytes, what: "sealed request", maxSize: Self.maxSize, maxDepth: 3, maxItems: 32 + 12 * Self.maxApprovals)
        let f = try CBORFields(item, what: "sealed request", required: ["v", "boot", "enc", "ct", "expiry"], optional: ["approvals"])
        guard try f.uint("v") == 1 else { throw EnvelopeError(.unsupportedVersion, "sealed request version \(try f.uint("v"))") }
        var approvals: [Approval] = []
        if f.has("approvals") {
            let list = try f.array("approvals", max: Self.maxApprovals)
            guard !list.isEmpty else { throw EnvelopeError(.malformed, "sealed request: approvals, when present, are 1 to \(Self.maxApprovals)") }
            for a in list { approvals.append(try Approval(a)) }
        }
        self.init(
            boot: try f.bytes("boot", count: 32), enc: try f.bytes("enc", count: 32), ciphertext: try f.bytes("ct", max: Self.maxSize),
            expiry: try f.uint("expiry"), approvals: approvals)
        guard ciphertext.count >= 16 else { throw EnvelopeError(.malformed, "sealed request: the ciphertext is shorter than its tag") }
    }

    /// SHA-256 of the sealed bytes (`["cloister-sealed-request/1", boot, enc, ct, expiry]`): the request hash an
    /// action binds, and what receipts commit to (never the plaintext).
    public var sealedHash: [UInt8] {
        SHA.sha256(CBOREncoder.encode(.array([.text("cloister-sealed-request/1"), .bytes(boot), .bytes(enc), .bytes(ciphertext), .unsigned(expiry)])))
    }

    /// The action this request's signature must be over.
    public func action(deployment: [UInt8], tenant: String, operation: String, requestID: String) -> Action {
        Action(deployment: deployment, boot: boot, tenant: tenant, operation: operation, requestID: requestID, requestHash: sealedHash, expiry: expiry)
    }

    /// HPKE `info` of a request: `["cloister-request/1", deployment, tenant, op, request id]`.
    public static func info(deployment: [UInt8], tenant: String, operation: String, requestID: String) -> [UInt8] {
        CBOREncoder.encode(.array([.text("cloister-request/1"), .bytes(deployment), .text(tenant), .text(operation), .text(requestID)]))
    }

    /// What is sealed: the operation's body and the X25519 key the result is to be sealed to.
    /// Wire form: CBOR map `{"body": bstr, "reply": bstr32}`.
    public struct Inner: Sendable, Hashable {
        public var body: [UInt8]
        public var reply: [UInt8]

        public init(body: [UInt8], reply: [UInt8]) {
            self.body = body
            self.reply = reply
        }

        public var encoded: [UInt8] { CBOREncoder.encode(.map(["body": .bytes(body), "reply": .bytes(reply)])) }

        public init(encoded bytes: [UInt8]) throws(EnvelopeError) {
            let item = try CBORFields.decode(bytes, what: "sealed request body", maxSize: SealedRequest.maxSize, maxDepth: 1, maxItems: 8)
            let f = try CBORFields(item, what: "sealed request body", required: ["body", "reply"])
            self.init(body: try f.bytes("body", max: SealedRequest.maxSize), reply: try f.bytes("reply", count: 32))
        }
    }
}

/// A result sealed to the key the client put in its sealed request (HPKE as for requests, `info`
/// `["cloister-result/1", deployment, tenant, op, request id]`). Wire form: CBOR map `{"v": 1, "enc": bstr32, "ct": bstr}`.
public struct SealedResult: Sendable, Hashable {
    public var enc: [UInt8]
    public var ciphertext: [UInt8]

    public init(enc: [UInt8], ciphertext: [UInt8]) {
        self.enc = enc
        self.ciphertext = ciphertext
    }

    public var encoded: [UInt8] { CBOREncoder.encode(.map(["v": .unsigned(1), "enc": .bytes(enc), "ct": .bytes(ciphertext)])) }

    public init(encoded bytes: [UInt8]) throws(EnvelopeError) {
        let item = try CBORFields.decode(bytes, what: "sealed result", maxSize: SignedResponse.maxResultSize, maxDepth: 1, maxItems: 8)
        let f = try CBORFields(item, what: "sealed result", required: ["v", "enc", "ct"])
        guard try f.uint("v") == 1 else { throw EnvelopeError(.unsupportedVersion, "sealed result version \(try f.uint("v"))") }
        self.init(enc: try f.bytes("enc", count: 32), ciphertext: try f.bytes("ct", max: SignedResponse.maxResultSize))
    }

    public static func info(deployment: [UInt8], tenant: String, operation: String, requestID: String) -> [UInt8] {
        CBOREncoder.encode(.array([.text("cloister-result/1"), .bytes(deployment), .text(tenant), .text(operation), .text(requestID)]))
    }
}
