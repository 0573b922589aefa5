import AWSKMS
import AWSRequestSigning
import CloisterTestSupport
import EmulatedKMS
import Foundation
import HTTPSClient
import Hummingbird
import Logging
import Synchronization
import NIOCore
import NIOSSL
import NitroAttestation
import SecureModule
import Testing

/// The emulated KMS over its real wire (HTTPS with a certificate from the emulated root, JSON 1.1, SigV4) driven by
/// the enclave's KMS client: what it grants, what it refuses, and with which AWS error.
@Suite struct EmulatedKMSServerTests {
    static let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-ekms-\(UUID().uuidString)").path
    static let root = try! EmulatedRoot.loadOrCreate(directory: directory + "/root").root
    static let endpoint = "kms.us-east-1.amazonaws.com"
    static let buildA = EnclaveImage(executable: Array("kms build A".utf8), manifest: Array("{}".utf8))
    static let buildB = EnclaveImage(executable: Array("kms build B".utf8), manifest: Array("{}".utf8))
    static func pins(_ image: EnclaveImage) -> [Int: [UInt8]] { [0: image.measurements[0]!, 1: image.measurements[1]!, 2: image.measurements[2]!] }

    /// A running server with `policy` (default: the role may encrypt, and decrypt for build A's documents).
    final class Running: Sendable {
        let server: EmulatedKMSServer
        let port: Int
        let task: Task<Void, any Error>
        init(server: EmulatedKMSServer, port: Int, task: Task<Void, any Error>) {
            self.server = server
            self.port = port
            self.task = task
        }
        deinit { task.cancel() }

        func client(trusting roots: [NIOSSLCertificate]? = nil, credentials: AWSCredentials? = nil) throws -> KMSClient {
            let role = server.role
            let port = port
            let transport = HTTPSKMSTransport(
                serverName: EmulatedKMSServerTests.endpoint, trustRoots: try roots ?? [NIOSSLCertificate(bytes: EmulatedKMSServerTests.root.certificate.der, format: .der)],
                dial: { try await HTTPSExchange.connectTCP(host: "127.0.0.1", port: port) })
            return try KMSClient(
                host: EmulatedKMSServerTests.endpoint, region: "us-east-1",
                credentials: {
                    if let credentials { return credentials }
                    let c = role.current()
                    return try AWSCredentials(accessKeyID: c.accessKeyID, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken)
                }, transport: transport, retry: KMSRetryPolicy(maxAttempts: 1))
        }
    }

    /// The role's clock, which a test moves forward to expire credentials.
    final class RoleClock: Sendable {
        let offset = Mutex<Int64>(0)
        func now() -> Int64 { Int64(Date().timeIntervalSince1970) + offset.withLock { $0 } }
    }

    static func start(policy: String? = nil, lifetime: Int64 = 3600, clock: RoleClock = RoleClock()) async throws -> Running {
        let role = EmulatedRole(lifetime: lifetime, now: { clock.now() })
        let json = try policy.map { Array($0.utf8) } ?? Array(KMSKeyPolicy(builds: [pins(buildA)], role: role.arn, admin: "arn:aws:iam::000000000000:root").json())
        let kms = EmulatedKMS(
            region: "us-east-1", keys: try EmulatedKeyStore(path: directory + "/keys-\(UUID().uuidString).cbor"), policy: try EmulatedKeyPolicy(json: json),
            roots: TrustedRoots(certificates: [root.certificate]))
        let server = try EmulatedKMSServer(kms: kms, role: role, root: root, names: [endpoint], logger: Logger(label: "test"))
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = try server.application(onRunning: { continuation.yield($0) })
        let task = Task { try await app.runService() }
        var iterator = stream.makeAsyncIterator()
        let port = try #require(await iterator.next())
        return Running(server: server, port: port, task: task)
    }

    static func code(_ body: () async throws -> Any) async -> KMSErrorCode? {
        do {
            _ = try await body()
            return nil
        } catch { return (error as? KMSError)?.code }
    }

    @Test func encryptAndDecryptOverHTTPSWithTheRolesCredentials() async throws {
        let allow = #"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:role/cloister-enclave"},"Action":["kms:Encrypt","kms:Decrypt"]}]}"#
        let running = try await Self.start(policy: allow)
        let client = try running.client()
        let context = ["cloister:deployment": "abc"]
        let sealed = try await client.encrypt(KMSEncryptRequest(keyID: "alias/test", plaintext: Array("secret".utf8), encryptionContext: context))
        // KMS answers with the key's ARN, which an alias names.
        #expect(sealed.keyID.hasPrefix("arn:aws:kms:us-east-1:000000000000:key/"))
        let opened = try await client.decrypt(KMSDecryptRequest(ciphertextBlob: sealed.ciphertextBlob, encryptionContext: context))
        #expect(opened.plaintext == Array("secret".utf8))
        #expect(await Self.code { try await client.decrypt(KMSDecryptRequest(ciphertextBlob: sealed.ciphertextBlob, encryptionContext: ["cloister:deployment": "abd"])) } == .invalidCiphertext)
        #expect(await Self.code { try await client.decrypt(KMSDecryptRequest(ciphertextBlob: sealed.ciphertextBlob)) } == .invalidCiphertext)
        #expect(await Self.code { try await client.decrypt(KMSDecryptRequest(ciphertextBlob: [1, 2, 3])) } == .invalidCiphertext)
        #expect(await Self.code { try await client.decrypt(KMSDecryptRequest(ciphertextBlob: sealed.ciphertextBlob, encryptionContext: context, keyID: "alias/other")) } == .incorrectKey)
        #expect(try await client.decrypt(KMSDecryptRequest(ciphertextBlob: sealed.ciphertextBlob, encryptionContext: context, keyID: sealed.keyID)).plaintext == Array("secret".utf8))
        // The key is forgotten (deleted): its ciphertexts are gone with it, even under a new key of the same name.
        try running.server.kms.keys.delete("alias/test")
        #expect(await Self.code { try await client.decrypt(KMSDecryptRequest(ciphertextBlob: sealed.ciphertextBlob, encryptionContext: context)) } == .notFound)
        _ = try await client.encrypt(KMSEncryptRequest(keyID: "alias/test", plaintext: [1], encryptionContext: context))
        #expect(await Self.code { try await client.decrypt(KMSDecryptRequest(ciphertextBlob: sealed.ciphertextBlob, encryptionContext: context)) } == .notFound)
    }

    @Test func onlyCredentialsTheRoleIssuedAndStillValidAreAccepted() async throws {
        let clock = RoleClock()
        let running = try await Self.start(lifetime: 600, clock: clock)
        let issued = running.server.role.current()
        let stranger = try AWSCredentials(accessKeyID: "ASIASTRANGER00000000", secretAccessKey: issued.secretAccessKey, sessionToken: issued.sessionToken)
        #expect(await Self.code { try await running.client(credentials: stranger).encrypt(KMSEncryptRequest(keyID: "k", plaintext: [1])) } == .unrecognizedClient)
        let wrongSecret = try AWSCredentials(accessKeyID: issued.accessKeyID, secretAccessKey: "notTheSecret0", sessionToken: issued.sessionToken)
        #expect(await Self.code { try await running.client(credentials: wrongSecret).encrypt(KMSEncryptRequest(keyID: "k", plaintext: [1])) } == .invalidSignature)
        let wrongToken = try AWSCredentials(accessKeyID: issued.accessKeyID, secretAccessKey: issued.secretAccessKey, sessionToken: "another")
        #expect(await Self.code { try await running.client(credentials: wrongToken).encrypt(KMSEncryptRequest(keyID: "k", plaintext: [1])) } == .unrecognizedClient)
        let fresh = try AWSCredentials(accessKeyID: issued.accessKeyID, secretAccessKey: issued.secretAccessKey, sessionToken: issued.sessionToken)
        _ = try await running.client(credentials: fresh).encrypt(KMSEncryptRequest(keyID: "k", plaintext: [1]))
        clock.offset.withLock { $0 += 601 }
        #expect(await Self.code { try await running.client(credentials: fresh).encrypt(KMSEncryptRequest(keyID: "k", plaintext: [1])) } == .expiredToken)
        // The role has issued new ones by now, which work.
        _ = try await running.client().encrypt(KMSEncryptRequest(keyID: "k", plaintext: [1]))
    }

    @Test func decryptGoesOnlyToAnAttestedBuildThePolicyNamesAndOnlyAsAnEnvelope() async throws {
        let running = try await Self.start()
        let client = try running.client()
        let sealed = try await client.encrypt(KMSEncryptRequest(keyID: "alias/master", plaintext: Random.bytes(32), encryptionContext: ["p": "1"]))
        // Without attestation the role may not decrypt at all.
        #expect(await Self.code { try await client.decrypt(KMSDecryptRequest(ciphertextBlob: sealed.ciphertextBlob, encryptionContext: ["p": "1"])) } == .accessDenied)

        func document(_ image: EnclaveImage, _ key: RecipientKey) async throws -> [UInt8] {
            try await NSMClient(transport: try SoftwareNSM(root: Self.root, image: image)).attestation(userData: nil, nonce: nil, publicKey: key.publicKeyDER)
        }
        let key = try RecipientKey.generate()
        let answer = try await client.decrypt(
            KMSDecryptRequest(ciphertextBlob: sealed.ciphertextBlob, encryptionContext: ["p": "1"], recipient: KMSRecipientInfo(attestationDocument: try await document(Self.buildA, key))))
        #expect(answer.plaintext == nil)
        let envelope = try #require(answer.ciphertextForRecipient)
        #expect(try EnvelopedData.open(envelope, with: key, expectedLength: 32).count == 32)
        // Another build's document: AccessDenied, naming the action.
        #expect(
            await Self.code {
                try await client.decrypt(
                    KMSDecryptRequest(ciphertextBlob: sealed.ciphertextBlob, encryptionContext: ["p": "1"], recipient: KMSRecipientInfo(attestationDocument: try await document(Self.buildB, key))))
            } == .accessDenied)
        // A document under another root is not a recipient at all.
        let stranger = try EmulatedRoot.create(directory: Self.directory + "/stranger-\(UUID().uuidString)")
        let foreign = try await NSMClient(transport: try SoftwareNSM(root: stranger, image: Self.buildA)).attestation(userData: nil, nonce: nil, publicKey: key.publicKeyDER)
        #expect(
            await Self.code {
                try await client.decrypt(KMSDecryptRequest(ciphertextBlob: sealed.ciphertextBlob, encryptionContext: ["p": "1"], recipient: KMSRecipientInfo(attestationDocument: foreign)))
            } == .validation)
        // GenerateRandom to a recipient: an envelope too.
        let random = try await client.generateRandom(KMSGenerateRandomRequest(numberOfBytes: 32, recipient: KMSRecipientInfo(attestationDocument: try await document(Self.buildA, key))))
        #expect(random.plaintext == nil)
        #expect(try EnvelopedData.open(try #require(random.ciphertextForRecipient), with: key, expectedLength: 32).count == 32)
    }

    @Test func onlyJSON11IsSpoken() async throws {
        let running = try await Self.start()
        let channel = try await HTTPSExchange.connectTCP(host: "127.0.0.1", port: running.port)
        let answer = try await HTTPSExchange.perform(
            over: channel, serverName: Self.endpoint, trustRoots: [try NIOSSLCertificate(bytes: Self.root.certificate.der, format: .der)],
            request: HTTPSRequest(
                method: "POST", path: "/", headers: [("Host", Self.endpoint), ("Content-Type", "application/json"), ("X-Amz-Target", "TrentService.Encrypt")],
                body: Array("{}".utf8)),
            maxResponseBytes: 4096, timeout: .seconds(30))
        #expect(answer.status == 400)
        #expect(String(decoding: answer.body, as: UTF8.self).contains("UnknownOperationException"))
    }

    @Test func aServerTheClientsRootsDoNotCertifyIsRefusedBeforeAnyRequest() async throws {
        let running = try await Self.start()
        let other = try EmulatedRoot.create(directory: Self.directory + "/other-\(UUID().uuidString)")
        let client = try running.client(trusting: [try NIOSSLCertificate(bytes: other.certificate.der, format: .der)])
        do {
            _ = try await client.encrypt(KMSEncryptRequest(keyID: "k", plaintext: [1]))
            Issue.record("a server with an untrusted certificate was answered")
        } catch let error as KMSError {
            #expect(error.code == .transport)
            #expect("\(error)".contains("untrustedCertificate") || "\(error)".contains("certificate"), "\(error)")
        }
    }
}
