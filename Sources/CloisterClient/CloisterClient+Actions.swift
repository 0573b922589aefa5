import EnclaveWire
import Foundation
import NitroAttestation
import SecureModule

extension CloisterClient {
    /// How long an action this client signs stays valid.
    public static let actionLifetime: Duration = .seconds(300)

    /// Performs `operation` as an action: the body sealed to the HPKE key of the boot this client attested, signed
    /// by `credential` over the action digest, the result sealed back to a key only this call holds. A refusal
    /// because the enclave restarted (`otherBoot`) makes the client attest the new boot and sign again, under a new
    /// request id (the old action can never run). Answers that are not `ok` are `operationFailed`, with the
    /// enclave's code and message (opened when sealed).
    ///
    /// `approvers`: further program keys that approve the same action (a key whose policy needs a quorum).
    public func act(_ operation: String, body: [UInt8], requestID: String? = nil, approvers: [CredentialKey] = []) async throws(ClientError) -> VerifiedResponse {
        guard let credential else { throw ClientError(.sealingFailed, "\(operation) is an action: this client has no credential to sign it") }
        return try await sealedCall(operation, body: body, requestID: requestID, credentials: [credential] + approvers)
    }

    /// A read (`key.list`, `key.describe`, `key.verify`, `credential.list`) sealed to the enclave, so that its
    /// input and result pass the host as ciphertext; no credential signs it.
    public func sealedRead(_ operation: String, body: [UInt8], requestID: String? = nil) async throws(ClientError) -> VerifiedResponse {
        try await sealedCall(operation, body: body, requestID: requestID, credentials: [])
    }

    private func sealedCall(_ operation: String, body: [UInt8], requestID: String?, credentials: [CredentialKey]) async throws(ClientError) -> VerifiedResponse {
        guard let tenant else { throw ClientError(.requestMismatch, "a call needs the tenant its token belongs to (every receipt must name it)") }
        var id = requestID ?? Self.randomRequestID()
        for attempt in 0..<3 {
            if attempt > 0 {
                try await connect()
                id = Self.randomRequestID()
            } else {
                try await attestIfDue()
            }
            guard let identity = identities.last(where: { $0.claims.boot != nil }) ?? identities.last, let deployment = identity.deployment else {
                throw ClientError(.deploymentChanged, "the enclave presents no deployment commitment: it holds no master secret to act with")
            }
            let expiry = UInt64(Date().timeIntervalSince1970 * 1000) + UInt64(Self.actionLifetime.components.seconds) * 1000
            let call = try SealedCall(
                body: body, tenant: tenant, operation: operation, requestID: id, deployment: deployment, boot: identity.boot,
                hpke: identity.claims.hpkePublicKey, expiry: expiry, credentials: credentials)
            let response = try await exchange(operation, body: call.body, requestID: id)
            if response.status == "otherBoot" { continue }
            // Refusals decided before the request was opened are plain text; everything else is sealed to this call.
            let result = (try? SealedResult(encoded: response.result)) != nil ? try call.open(response.result) : response.result
            guard response.status == "ok" else {
                throw ClientError(.operationFailed, "\(response.status): \(String(decoding: result.prefix(300), as: UTF8.self))")
            }
            return VerifiedResponse(requestID: id, result: result, status: response.status, receipt: response.receipt, signed: response.signed)
        }
        throw ClientError(.operationFailed, "otherBoot: the enclave kept restarting; the action was signed for three boots and ran in none")
    }
}
