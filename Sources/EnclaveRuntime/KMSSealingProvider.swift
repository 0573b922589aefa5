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
    /// The refusals that mean the key that sealed the master is gone or unusable for good: KMS's own answers.
    public static let keyIsGone: Set<String> = ["kms.notFound", "kms.disabled", "kms.invalidState", "kms.incorrectKey", "kms.invalidCiphertext"]
    public let keyID: String
    let client: KMSClient

    public init(keyID: String, client: KMSClient) {
        self.keyID = keyID
        self.client = client
    }

    public func seal(_ secret: [UInt8], context: [String: String]) async throws -> [UInt8] {
        let answer: KMSEncryptResponse
        do { answer = try await client.encrypt(KMSEncryptRequest(keyID: keyID, plaintext: secret, encryptionContext: context)) } catch {
            throw Self.refusal(error, operation: "Encrypt", document: nil)
        }
        // KMS names the key it used: it must be the manifest's (the key itself, or one in the alias's account and
        // region), never one the host's credentials found in an account of its own.
        guard Self.isManifestKey(answer.keyID, manifest: keyID) else {
            throw SealingRefusal(code: "wrongKey", reason: "KMS encrypted under \(answer.keyID.prefix(256)), not the manifest's key \(keyID)")
        }
        return answer.ciphertextBlob
    }

    /// Whether the key ARN KMS answered with is the one `manifest` names: equal to a key ARN, or a key in the
    /// partition, region and account of an alias ARN.
    static func isManifestKey(_ answered: String, manifest: String) -> Bool {
        let a = answered.split(separator: ":", omittingEmptySubsequences: false)
        let m = manifest.split(separator: ":", omittingEmptySubsequences: false)
        guard a.count == 6, m.count == 6, a[0] == "arn", a[2] == "kms", a[5].hasPrefix("key/") else { return false }
        if m[5].hasPrefix("key/") { return answered == manifest }
        return a[1] == m[1] && a[3] == m[3] && a[4] == m[4]
    }

    public func unseal(_ sealed: [UInt8], context: [String: String], recipient: SealingRecipient) async throws -> [UInt8] {
        let key = try RecipientKey.generate()
        let document = try await recipient.attest(nonce: Random.bytes(32), publicKey: key.publicKeyDER).document
        let answer: KMSDecryptResponse
        do {
            answer = try await client.decrypt(
                KMSDecryptRequest(ciphertextBlob: sealed, encryptionContext: context, keyID: keyID, recipient: KMSRecipientInfo(attestationDocument: document)))
        } catch { throw Self.refusal(error, operation: "Decrypt", document: document) }
        if let answered = answer.keyID, !Self.isManifestKey(answered, manifest: keyID) {
            throw SealingRefusal(code: "wrongKey", reason: "KMS decrypted with \(answered.prefix(256)), not the manifest's key \(keyID)")
        }
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
