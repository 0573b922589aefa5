import EnclaveWire
import NitroAttestation
import SecureModule

/// One sealed (and, with credentials, signed) call as a client builds it: the request sealed to the HPKE key of the
/// boot it is addressed to, the action over its hash signed by each credential, and the key its result will be
/// sealed to. Approvals made elsewhere (another person's program key, a passkey in a browser) over `action.digest`
/// are added with `body(adding:)`.
public struct SealedCall: Sendable {
    /// What to POST as the body.
    public let body: [UInt8]
    /// The action (what every approval signs).
    public let action: Action
    /// The request without approvals.
    public let unsigned: SealedRequest
    /// The private key of the result's HPKE seal; never leaves this client.
    let reply: X25519Key
    let resultInfo: [UInt8]

    /// Seals `body` for `operation` of `tenant` with `requestID` to the boot `boot` (its document hash) of
    /// `deployment`, whose HPKE key is `hpke`, and has each of `credentials` approve it (none: a sealed read). The
    /// action expires at `expiry` (ms since the epoch).
    public init(
        body: [UInt8], tenant: String, operation: String, requestID: String, deployment: [UInt8], boot: [UInt8], hpke: [UInt8],
        expiry: UInt64, credentials: [CredentialKey]
    ) throws(ClientError) {
        do {
            reply = try X25519Key.generate()
            let inner = SealedRequest.Inner(body: body, reply: reply.publicKey)
            let info = SealedRequest.info(deployment: deployment, tenant: tenant, operation: operation, requestID: requestID)
            let (enc, ciphertext) = try HPKEX25519.seal(to: hpke, info: info, plaintext: inner.encoded)
            unsigned = SealedRequest(boot: boot, enc: enc, ciphertext: ciphertext, expiry: expiry)
            action = unsigned.action(deployment: deployment, tenant: tenant, operation: operation, requestID: requestID)
            let digest = action.digest
            var request = unsigned
            request.approvals = try credentials.map { Approval(credential: SHA.sha256($0.spki), signature: try $0.sign(digest)) }
            self.body = request.encoded
            resultInfo = SealedResult.info(deployment: deployment, tenant: tenant, operation: operation, requestID: requestID)
        } catch {
            throw ClientError(.sealingFailed, "\(error)")
        }
    }

    /// The same call with `approvals` after the ones it was made with.
    public func body(adding approvals: [Approval]) throws(ClientError) -> [UInt8] {
        var request: SealedRequest
        do { request = try SealedRequest(encoded: body) } catch { throw ClientError(.sealingFailed, "\(error)") }
        request.approvals += approvals
        return request.encoded
    }

    /// The plaintext of a result the enclave sealed to this call's reply key.
    public func open(_ result: [UInt8]) throws(ClientError) -> [UInt8] {
        let sealed: SealedResult
        do { sealed = try SealedResult(encoded: result) } catch { throw ClientError(.malformedResponse, "the result is not sealed: \(error)") }
        do { return try HPKEX25519.open(sealed.ciphertext, enc: sealed.enc, with: reply, info: resultInfo) } catch {
            throw ClientError(.malformedResponse, "the sealed result does not open with this call's key")
        }
    }
}
