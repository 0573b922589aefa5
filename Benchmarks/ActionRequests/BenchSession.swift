import CloisterClient
import Foundation
import NitroAttestation
import SecureModule

/// One benchmark run against one tenant: the attested client, the credential that signs its actions, the keys it
/// signs with, and the samples kept from each file of requests it generated.
final class BenchSession {
    /// A signing key of the tenant as `key.describe` reported it.
    struct SigningKey {
        let name: String
        let kind: CredentialKey.Kind
        /// DER SubjectPublicKeyInfo of each version.
        let publicKeys: [UInt64: [UInt8]]
    }

    let client: CloisterClient
    let credential: CredentialKey
    /// The prefix of every request id of this run.
    let runID: String
    let messageBytes: Int
    /// Where each checked signature is appended (nil: nowhere).
    let signatures: FileHandle?
    private(set) var keys: [String: SigningKey] = [:]
    var batches: [String: RequestBatch] = [:]
    var batchCount = 0

    init(client: CloisterClient, credential: CredentialKey, runID: String, messageBytes: Int, signatures: FileHandle?) {
        self.client = client
        self.credential = credential
        self.runID = runID
        self.messageBytes = messageBytes
        self.signatures = signatures
    }

    /// Attests the enclave; the report line.
    func attest() async throws -> String {
        let identity = try await client.connect()
        guard let deployment = identity.deployment else {
            throw BenchFailure("the enclave presents no deployment commitment: it holds no master secret to act with")
        }
        return
            "attested: boot \(Hex.encode(identity.boot).prefix(16))…, deployment \(Hex.encode(deployment).prefix(16))…"
    }

    /// Makes the credential the tenant's first if the tenant has none; else it must be one of the tenant's current
    /// credentials. The report line.
    func enrol() async throws -> String {
        let id = Hex.encode(SHA.sha256(credential.spki))
        let listed: VerifiedResponse?
        do {
            listed = try await client.sealedRead("credential.list", body: KeyMessages.encode([String: String]()))
        } catch {
            guard Self.refused(error, "noCredentials") else { throw error }
            listed = nil
        }
        guard let listed else {
            let body = KeyMessages.CredentialAdd(
                kind: credential.kind.rawValue,
                publicKey: Base64.encode(credential.spki),
                label: "bench-e2e"
            )
            _ = try await client.act("credential.add", body: KeyMessages.encode(body))
            return
                "tenant \(client.tenant ?? "?"): credential \(id.prefix(16))… (\(credential.kind.rawValue)) registered as its root"
        }
        let set = try KeyMessages.decode(KeyMessages.Credentials.self, listed.result, what: "credential.list's result")
        guard set.credentials.contains(where: { $0.id == id && $0.revoked == nil }) else {
            throw BenchFailure(
                "tenant \(client.tenant ?? "?") already has \(set.credentials.count) credential(s) and \(id.prefix(16))… is not a current one: pass one of its program keys with --credential"
            )
        }
        return
            "tenant \(client.tenant ?? "?"): signing with its credential \(id.prefix(16))… (\(credential.kind.rawValue))"
    }

    /// Creates the key `name` of `type` (a key of that name and type that exists already is used as it is) and
    /// keeps its public keys. The report line.
    func prepareKey(name: String, kind: CredentialKey.Kind) async throws -> String {
        var verb = "created"
        do {
            _ = try await client.act(
                "key.create",
                body: KeyMessages.encode(KeyMessages.Create(name: name, type: kind.rawValue))
            )
        } catch {
            guard Self.refused(error, "keyExists") else { throw error }
            verb = "exists"
        }
        let described = try await client.sealedRead(
            "key.describe",
            body: KeyMessages.encode(KeyMessages.Name(name: name))
        )
        let d = try KeyMessages.decode(KeyMessages.Description.self, described.result, what: "key.describe's result")
        guard d.type == kind.rawValue else { throw BenchFailure("key \(name) is \(d.type), not \(kind.rawValue)") }
        var publicKeys: [UInt64: [UInt8]] = [:]
        for v in d.versions {
            guard let text = v.publicKey, let spki = Base64.decode(text), CredentialVerifier.kind(spki: spki) == kind
            else {
                throw BenchFailure("key.describe gives version \(v.version) of \(name) no \(kind.rawValue) public key")
            }
            publicKeys[v.version] = spki
        }
        guard publicKeys[d.latestVersion] != nil else {
            throw BenchFailure("key.describe lists no version \(d.latestVersion) of \(name)")
        }
        keys[name] = SigningKey(name: name, kind: kind, publicKeys: publicKeys)
        return "key \(name) (\(kind.rawValue)) \(verb), version \(d.latestVersion)"
    }

    /// Whether `error` is the enclave's signed refusal with status `status`.
    static func refused(_ error: ClientError, _ status: String) -> Bool {
        error.code == .operationFailed && error.message.hasPrefix(status + ":")
    }

    /// The message request `requestID` signs: its id, padded to `messageBytes`, so that each signature covers
    /// another message and a result cannot pass for another request's.
    func message(for requestID: String) -> [UInt8] {
        var text = Array("cloister-bench \(requestID) ".utf8)
        text += [UInt8](repeating: UInt8(ascii: "."), count: max(0, messageBytes - text.count))
        return Array(text.prefix(messageBytes))
    }
}
