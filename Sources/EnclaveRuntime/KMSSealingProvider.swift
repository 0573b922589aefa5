import AWSKMS
import AWSRequestSigning
import Foundation
import HTTPSClient
import NIOSSL
import VsockBridge
import NitroAttestation
import SecureModule

/// AWS KMS as the sealing provider, on Nitro and (against the emulated KMS) in emulation: one piece of code. Seal
/// is `Encrypt` under the manifest's key with the deployment's encryption context; unseal is `Decrypt` with a
/// `Recipient`: a fresh attestation document carrying a fresh RSA-2048 key, whose `CiphertextForRecipient` only
/// this enclave can open. An answer with the plaintext in the clear is refused: it would mean the key policy let a
/// caller decrypt without attestation. The requests go over TLS that ends here, to a server whose certificate
/// chains to the roots this image carries; the host only carries bytes.
public struct KMSSealingProvider: SealingProvider {
    public let name = "kms"
    public let keyID: String
    let client: KMSClient

    public init(keyID: String, client: KMSClient) {
        self.keyID = keyID
        self.client = client
    }

    public func seal(_ secret: [UInt8], context: [String: String]) async throws -> [UInt8] {
        do { return try await client.encrypt(KMSEncryptRequest(keyID: keyID, plaintext: secret, encryptionContext: context)).ciphertextBlob } catch {
            throw Self.refusal(error, operation: "Encrypt", document: nil)
        }
    }

    public func unseal(_ sealed: [UInt8], context: [String: String], recipient: SealingRecipient) async throws -> [UInt8] {
        let key = try RecipientKey.generate()
        let document = try await recipient.attest(nonce: Random.bytes(32), publicKey: key.publicKeyDER).document
        let answer: KMSDecryptResponse
        do {
            answer = try await client.decrypt(
                KMSDecryptRequest(ciphertextBlob: sealed, encryptionContext: context, keyID: keyID, recipient: KMSRecipientInfo(attestationDocument: document)))
        } catch { throw Self.refusal(error, operation: "Decrypt", document: document) }
        guard answer.plaintext == nil, let envelope = answer.ciphertextForRecipient else {
            throw SealingRefusal(code: "plaintextInTheClear", reason: "KMS answered Decrypt without CiphertextForRecipient: the key policy lets its caller decrypt without attestation")
        }
        do { return try EnvelopedData.open(envelope, with: key, expectedLength: MasterSecret.length) } catch {
            throw SealingRefusal(code: "recipientEnvelopeInvalid", reason: "CiphertextForRecipient: \(error)")
        }
    }

    /// A KMS error as a sealing refusal, readable in the host's log and /healthz: KMS's `__type` and message, and
    /// for AccessDenied the PCRs this enclave's document carried (what the key policy compared).
    static func refusal(_ error: KMSError, operation: String, document: [UInt8]?) -> SealingRefusal {
        var reason = "KMS \(operation): \(error.message)"
        if error.code == .accessDenied, let document, let (_, parsed) = try? AttestationVerifier.parse(document) {
            let pcrs = [0, 1, 2, 8].compactMap { i in parsed.pcrs[i].map { "PCR\(i)=\(Hex.encode($0).lowercased())" } }
            reason += "; this enclave's document carried \(pcrs.joined(separator: " "))"
        }
        return SealingRefusal(code: "kms." + error.code.rawValue, reason: reason)
    }
}

extension KMSSealingProvider {
    /// The provider for the manifest's `kms`, over TLS to its endpoint through `dialer` (the enclave's egress),
    /// trusting only `trust`, signing with the host's current credentials for the instance role.
    static func make(kms: DeploymentManifest.KMS, dialer: EgressDialer, trust: [NIOSSLCertificate], credentials: CredentialsClient) throws -> KMSSealingProvider {
        let host = kms.endpointHost
        let port = UInt16(kms.endpointPort)
        let transport = HTTPSKMSTransport(serverName: host, trustRoots: trust, dial: { try await dialer.dial(host: host, port: port) })
        let client = try KMSClient(
            host: host, port: kms.endpointPort, region: kms.region,
            credentials: { try await credentials.current(now: Int64(Date().timeIntervalSince1970)) }, transport: transport)
        return KMSSealingProvider(keyID: kms.keyID, client: client)
    }
}
