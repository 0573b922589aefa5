import AWSKMS
import CBOR
import Foundation
import NitroAttestation
import SecureModule

/// The emulated KMS's operations, as AWS KMS answers them: `Encrypt` (any key id the policy lets the caller use; a
/// key id it has not seen gets a new key), `Decrypt` (the ciphertext names its key; the encryption context must be
/// the one it was made with; with a `Recipient`, the attestation document must verify against the emulated root
/// and be fresh, its PCRs are the `kms:RecipientAttestation:*` condition keys the policy is evaluated with, and
/// the plaintext goes back only as a CMS EnvelopedData to the document's RSA key) and `GenerateRandom`. Every
/// refusal is a `KMSError` with the code AWS would send.
public final class EmulatedKMS: Sendable {
    public let region: String
    public let account: String
    public let keys: EmulatedKeyStore
    public let policy: EmulatedKeyPolicy
    let roots: TrustedRoots
    /// How old a recipient's attestation document may be (AWS KMS: 5 minutes).
    let maxDocumentAgeMs: Int64

    public init(region: String, account: String = "000000000000", keys: EmulatedKeyStore, policy: EmulatedKeyPolicy, roots: TrustedRoots, maxDocumentAgeMs: Int64 = 300_000) {
        self.region = region
        self.account = account
        self.keys = keys
        self.policy = policy
        self.roots = roots
        self.maxDocumentAgeMs = maxDocumentAgeMs
    }

    static let blobTag = "cloister-emulated-kms/1"

    /// The ARN of what `name` names, as KMS resolves it: a key ARN is itself; an alias (ARN or name) or a bare id
    /// is a key in the alias's account (or this KMS's), named by its generation as a UUID. KMS answers with it.
    func keyARN(_ name: String, _ key: EmulatedKeyStore.Key) -> String {
        let parts = name.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 6, parts[0] == "arn", parts[5].hasPrefix("key/") { return name }
        let (partition, keyRegion, keyAccount) = parts.count == 6 ? (String(parts[1]), String(parts[3]), String(parts[4])) : ("aws", region, account)
        let g = Hex.encode(key.generation).lowercased()
        let uuid = [g.prefix(8), g.dropFirst(8).prefix(4), g.dropFirst(12).prefix(4), g.dropFirst(16).prefix(4), g.dropFirst(20).prefix(12)].joined(separator: "-")
        return "arn:\(partition):kms:\(keyRegion):\(keyAccount):key/\(uuid)"
    }

    /// An ARN for messages about `name` when no key exists.
    func arn(_ name: String) -> String { name.hasPrefix("arn:") ? name : "arn:aws:kms:\(region):\(account):\(name.hasPrefix("alias/") ? name : "key/" + name)" }

    public func encrypt(_ request: KMSEncryptRequest, principal: String) throws(KMSError) -> KMSEncryptResponse {
        try authorise(principal, "kms:Encrypt", key: request.keyID, context: Self.contextKeys(request.encryptionContext))
        let key: EmulatedKeyStore.Key
        do { key = try keys.key(request.keyID, create: true)! } catch { throw KMSError(.kmsInternal, "\(error)") }
        let nonce = Random.bytes(AESGCM.nonceSize)
        let sealed: [UInt8]
        do {
            sealed = try AESGCM.seal(request.plaintext, key: key.material, nonce: nonce, aad: Self.aad(request.keyID, key.generation, request.encryptionContext))
        } catch { throw KMSError(.kmsInternal, "\(error)") }
        let blob = CBOREncoder.encode(.array([.text(Self.blobTag), .text(request.keyID), .bytes(key.generation), .bytes(nonce), .bytes(sealed)]))
        return KMSEncryptResponse(ciphertextBlob: blob, keyID: keyARN(request.keyID, key), encryptionAlgorithm: "SYMMETRIC_DEFAULT")
    }

    public func decrypt(_ request: KMSDecryptRequest, principal: String, now: Int64 = Clock.milliseconds()) throws(KMSError) -> KMSDecryptResponse {
        guard let item = try? CBORDecoder(limits: .init(maxInputSize: 8192, maxDepth: 1, maxItems: 8)).decode(request.ciphertextBlob), let f = item.array,
            f.count == 5, f[0].text == Self.blobTag, let keyID = f[1].text, let generation = f[2].bytes, let nonce = f[3].bytes,
            nonce.count == AESGCM.nonceSize, let sealed = f[4].bytes
        else { throw KMSError(.invalidCiphertext, "the ciphertext is not one this KMS made") }

        var context = Self.contextKeys(request.encryptionContext)
        var recipientKey: [UInt8]?
        if let recipient = request.recipient {
            let verified: VerifiedAttestation
            do {
                verified = try AttestationVerifier(roots: roots, cache: nil).verify(
                    recipient.attestationDocument, at: .instant(milliseconds: now), policy: AttestationPolicy(maxAge: maxDocumentAgeMs))
            } catch {
                throw KMSError(.validation, "the recipient's attestation document is not valid: \(error)")
            }
            guard let publicKey = verified.document.publicKey else {
                throw KMSError(.validation, "the recipient's attestation document carries no public key")
            }
            for (index, value) in verified.document.pcrs { context["kms:RecipientAttestation:PCR\(index)"] = Hex.encode(value).lowercased() }
            if let pcr0 = verified.document.pcrs[0] { context["kms:RecipientAttestation:ImageSha384"] = Hex.encode(pcr0).lowercased() }
            recipientKey = publicKey
        }
        // The policy is checked before the key is looked up, as KMS does: a caller without the right learns nothing.
        try authorise(principal, "kms:Decrypt", key: keyID, context: context)
        guard let key = try? keys.key(keyID, create: false), key.generation == generation else {
            throw KMSError(.notFound, "the key \(arn(keyID)) that made this ciphertext does not exist")
        }
        if let asked = request.keyID, asked != keyID, asked != keyARN(keyID, key) {
            throw KMSError(.incorrectKey, "the ciphertext was made under another key than \(asked)")
        }
        let plaintext: [UInt8]
        do { plaintext = try AESGCM.open(sealed, key: key.material, nonce: nonce, aad: Self.aad(keyID, generation, request.encryptionContext)) } catch {
            throw KMSError(.invalidCiphertext, "the ciphertext or its encryption context is not the one this KMS made")
        }
        guard let recipientKey else { return KMSDecryptResponse(keyID: keyARN(keyID, key), plaintext: plaintext, encryptionAlgorithm: "SYMMETRIC_DEFAULT") }
        do {
            return KMSDecryptResponse(
                keyID: keyARN(keyID, key), ciphertextForRecipient: try EnvelopedDataBuilder.seal(plaintext, toRecipient: recipientKey),
                encryptionAlgorithm: "SYMMETRIC_DEFAULT")
        } catch { throw KMSError(.validation, "the recipient's public key: \(error)") }
    }

    public func generateRandom(_ request: KMSGenerateRandomRequest, principal: String, now: Int64 = Clock.milliseconds()) throws(KMSError) -> KMSGenerateRandomResponse {
        let bytes = Random.bytes(request.numberOfBytes)
        guard let recipient = request.recipient else { return KMSGenerateRandomResponse(plaintext: bytes) }
        let verified: VerifiedAttestation
        do {
            verified = try AttestationVerifier(roots: roots, cache: nil).verify(
                recipient.attestationDocument, at: .instant(milliseconds: now), policy: AttestationPolicy(maxAge: maxDocumentAgeMs))
        } catch { throw KMSError(.validation, "the recipient's attestation document is not valid: \(error)") }
        guard let publicKey = verified.document.publicKey else { throw KMSError(.validation, "the recipient's attestation document carries no public key") }
        do { return KMSGenerateRandomResponse(ciphertextForRecipient: try EnvelopedDataBuilder.seal(bytes, toRecipient: publicKey)) } catch {
            throw KMSError(.validation, "the recipient's public key: \(error)")
        }
    }

    func authorise(_ principal: String, _ action: String, key: String, context: [String: String]) throws(KMSError) {
        guard policy.evaluate(principal: principal, action: action, context: context) == .allowed else {
            throw KMSError(.accessDenied, "User: \(principal) is not authorized to perform: \(action) on resource: \(arn(key)) because no resource-based policy allows the \(action) action")
        }
    }

    /// `kms:EncryptionContext:KEY` condition keys.
    static func contextKeys(_ context: [String: String]?) -> [String: String] {
        Dictionary(uniqueKeysWithValues: (context ?? [:]).map { ("kms:EncryptionContext:\($0.key)", $0.value) })
    }

    /// The associated data: key, generation and the encryption context in a fixed order.
    static func aad(_ keyID: String, _ generation: [UInt8], _ context: [String: String]?) -> [UInt8] {
        let pairs = (context ?? [:]).sorted { $0.key < $1.key }.map { CBOR.array([.text($0.key), .text($0.value)]) }
        return CBOREncoder.encode(.array([.text(blobTag), .text(keyID), .bytes(generation), .array(pairs)]))
    }
}
