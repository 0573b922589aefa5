import CBOR

/// One credential's signature over an action digest. A program key signs the digest itself; a WebAuthn passkey
/// signs `authenticatorData ‖ SHA-256(clientDataJSON)`, whose `challenge` is the digest, so its approval carries
/// both. Wire form: CBOR map `{"cred": bstr32, "sig": bstr, ? "authData": bstr, ? "clientData": bstr}`
/// (`authData` and `clientData` together: a passkey's assertion).
public struct Approval: Sendable, Hashable {
    /// The credential's id (`Credential.id`).
    public var credential: [UInt8]
    public var signature: [UInt8]
    public var authenticatorData: [UInt8]?
    public var clientDataJSON: [UInt8]?

    public static let maxSignature = 512
    public static let maxAuthenticatorData = 4096
    public static let maxClientData = 4096

    public init(credential: [UInt8], signature: [UInt8], authenticatorData: [UInt8]? = nil, clientDataJSON: [UInt8]? = nil) {
        self.credential = credential
        self.signature = signature
        self.authenticatorData = authenticatorData
        self.clientDataJSON = clientDataJSON
    }

    public var cbor: CBOR {
        var map: CBORMap = ["cred": .bytes(credential), "sig": .bytes(signature)]
        if let authenticatorData { map[.text("authData")] = .bytes(authenticatorData) }
        if let clientDataJSON { map[.text("clientData")] = .bytes(clientDataJSON) }
        return .map(map)
    }

    public init(_ item: CBOR) throws(EnvelopeError) {
        let f = try CBORFields(item, what: "approval", required: ["cred", "sig"], optional: ["authData", "clientData"])
        guard f.has("authData") == f.has("clientData") else { throw EnvelopeError(.malformed, "approval: authData and clientData come together") }
        self.init(
            credential: try f.bytes("cred", count: 32), signature: try f.bytes("sig", max: Self.maxSignature),
            authenticatorData: f.has("authData") ? try f.bytes("authData", max: Self.maxAuthenticatorData) : nil,
            clientDataJSON: f.has("clientData") ? try f.bytes("clientData", max: Self.maxClientData) : nil)
    }
}
