import CBOR
import NitroAttestation

/// A sensitive action as a tenant's credential signs it: the deployment (its commitment), the boot the client
/// attested (its boot document's hash), the tenant, the operation, the request id, the hash of the exact sealed
/// request, and an expiry. Addressed to one boot, it can never run in another boot or another enclave; within its
/// boot the enclave runs it once. The credential signs `digest` (Ed25519: the 32 bytes; ECDSA P-256: SHA-256 of
/// them, DER); a WebAuthn passkey would sign it as its challenge.
public struct Action: Sendable, Hashable {
    public var deployment: [UInt8]
    public var boot: [UInt8]
    public var tenant: String
    public var operation: String
    public var requestID: String
    public var requestHash: [UInt8]
    /// Milliseconds since the Unix epoch after which the action is refused.
    public var expiry: UInt64

    public static let domain = "cloister-action/1"

    public init(deployment: [UInt8], boot: [UInt8], tenant: String, operation: String, requestID: String, requestHash: [UInt8], expiry: UInt64) {
        self.deployment = deployment
        self.boot = boot
        self.tenant = tenant
        self.operation = operation
        self.requestID = requestID
        self.requestHash = requestHash
        self.expiry = expiry
    }

    /// SHA-256 of the deterministic CBOR array `["cloister-action/1", deployment, boot, tenant, op, request id,
    /// request hash, expiry]`: what is signed, and what the enclave remembers as consumed.
    public var digest: [UInt8] {
        SHA.sha256(
            CBOREncoder.encode(
                .array([
                    .text(Self.domain), .bytes(deployment), .bytes(boot), .text(tenant), .text(operation), .text(requestID), .bytes(requestHash),
                    .unsigned(expiry),
                ])))
    }
}
