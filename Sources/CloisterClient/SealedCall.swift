import EnclaveWire
import NitroAttestation
import SecureModule

/// One sealed (and, with a credential, signed) call as a client builds it: the request sealed to the HPKE key of
/// the boot it is addressed to, the action signed over its hash, and the key its result will be sealed to.
public struct SealedCall: Sendable {
    /// What to POST as the body.
    public let body: [UInt8]
    /// The action signed (nil for a sealed read).
    public let action: Action?
    /// The private key of the result's HPKE seal; never leaves this client.
    let reply: X25519Key
    let resultInfo: [UInt8]

    /// Seals `body` for `operation` of `tenant` with `requestID` to the boot `boot` (its document hash) of
    /// `deployment`, whose HPKE key is `hpke`; signs it with `credential` when given. The action expires at `expiry`
    /// (ms since the epoch).
    public init(
        body: [UInt8], tenant: String, operation: String, requestID: String, deployment: [UInt8], boot: [UInt8], hpke: [UInt8],
        expiry: UInt64, credential: CredentialKey?
    ) throws(ClientError) {
        do {
            reply = try X25519Key.generate()
            let inner = SealedRequest.Inner(body: body, reply: reply.publicKey)
            let info = SealedRequest.info(deployment: deployment, tenant: tenant, operation: operation, requestID: requestID)
            let (enc, ciphertext) = try HPKEX25519.seal(to: hpke, info: info, plaintext: inner.encoded)
            var request = SealedRequest(boot: boot, enc: enc, ciphertext: ciphertext, expiry: expiry)
            if let credential {
                let action = request.action(deployment: deployment, tenant: tenant, operation: operation, requestID: requestID)
                request.credential = SHA.sha256(credential.spki)
                request.signature = try credential.sign(action.digest)
                self.action = action
            } else {
                action = nil
            }
            self.body = request.encoded
            resultInfo = SealedResult.info(deployment: deployment, tenant: tenant, operation: operation, requestID: requestID)
        } catch {
            throw ClientError(.sealingFailed, "\(error)")
        }
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
