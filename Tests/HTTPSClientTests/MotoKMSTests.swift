import AWSKMS
import AWSRequestSigning
import CloisterTestSupport
import Foundation
import HTTPSClient
import NIOSSL
import Testing

/// KMSClient over HTTPSKMSTransport against moto (PyPI moto 5.x, an AWS emulator nobody here wrote), served over
/// TLS with a certificate from a CA made in the test. moto checks SigV4 once its first four actions (the IAM user,
/// its access key and policy, and the KMS key, made with botocore) are done. Fails, not skips, without moto.
@Suite struct MotoKMSTests {
    /// argv[1]: the endpoint, argv[2]: the CA file. Prints {"id", "secret", "key"}: exactly four actions.
    static let setUp = """
        import json, sys, botocore.session
        s = botocore.session.get_session()
        kw = dict(region_name="us-east-1", endpoint_url=sys.argv[1], verify=sys.argv[2],
                  aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
        iam = s.create_client("iam", **kw)
        iam.create_user(UserName="enclave")
        key = iam.create_access_key(UserName="enclave")["AccessKey"]
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}
        iam.put_user_policy(UserName="enclave", PolicyName="kms", PolicyDocument=json.dumps(policy))
        kms = s.create_client("kms", **kw).create_key(Description="cloister master")["KeyMetadata"]
        print(json.dumps({"id": key["AccessKeyId"], "secret": key["SecretAccessKey"], "key": kms["KeyId"]}))
        """

    struct Account: Decodable {
        let id: String
        let secret: String
        let key: String
    }

    @Test func kmsClientAgainstMoto() async throws {
        let pki = try await TestPKI.make(subjectAltName: "DNS:localhost,IP:127.0.0.1")
        defer { pki.remove() }
        let moto = try MotoServer(
            certificatePath: pki.certificatePath,
            keyPath: pki.keyPath,
            unauthenticatedActions: 4,
            logDirectory: pki.directory
        )
        defer { moto.stop() }
        try await moto.waitUntilListening()

        let run = try await BuiltTool.run(
            executable: URL(fileURLWithPath: "/usr/bin/env"),
            ["python3", "-c", Self.setUp, "https://localhost:\(moto.port)", pki.rootPath],
            environment: [:]
        )
        try #require(run.status == 0, "botocore set-up against moto failed: \(run.stderr)\n\(moto.log)")
        let account = try JSONDecoder().decode(Account.self, from: Data(run.stdout.utf8))

        let roots = try pki.roots()
        let port = moto.port
        func client(secret: String, roots: [NIOSSLCertificate]) throws -> KMSClient {
            let credentials = try AWSCredentials(accessKeyID: account.id, secretAccessKey: secret)
            let transport = HTTPSKMSTransport(serverName: "localhost", trustRoots: roots, timeout: .seconds(10)) {
                try await HTTPSExchange.connectTCP(host: "127.0.0.1", port: port)
            }
            return try KMSClient(
                host: "localhost",
                port: port,
                region: "us-east-1",
                credentials: { credentials },
                transport: transport,
                retry: KMSRetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(50))
            )
        }
        let kms = try client(secret: account.secret, roots: roots)

        // Encrypt, then Decrypt with the same encryption context: the plaintext comes back.
        let context = ["cloister:purpose": "master/1", "cloister:deployment": "00ff"]
        let secret = (0..<32).map { _ in UInt8.random(in: 0...255) }
        let sealed = try await kms.encrypt(
            KMSEncryptRequest(keyID: account.key, plaintext: secret, encryptionContext: context)
        )
        #expect(sealed.keyID.hasSuffix("key/\(account.key)"))
        #expect(!sealed.ciphertextBlob.isEmpty && sealed.ciphertextBlob != secret)
        let opened = try await kms.decrypt(
            KMSDecryptRequest(ciphertextBlob: sealed.ciphertextBlob, encryptionContext: context)
        )
        #expect(opened.plaintext == secret)

        // Another encryption context is refused.
        var other = context
        other["cloister:deployment"] = "00fe"
        let wrongContext = await #expect(throws: KMSError.self) {
            try await kms.decrypt(KMSDecryptRequest(ciphertextBlob: sealed.ciphertextBlob, encryptionContext: other))
        }
        #expect(wrongContext?.code == .invalidCiphertext)

        // GenerateRandom answers the number of bytes asked for, different each time.
        let a = try await kms.generateRandom(KMSGenerateRandomRequest(numberOfBytes: 32))
        let b = try await kms.generateRandom(KMSGenerateRandomRequest(numberOfBytes: 32))
        #expect(a.plaintext?.count == 32)
        #expect(a.plaintext != b.plaintext)

        // A key nobody made.
        let missing = await #expect(throws: KMSError.self) {
            try await kms.encrypt(KMSEncryptRequest(keyID: "11111111-2222-3333-4444-555555555555", plaintext: [1]))
        }
        #expect(missing?.code == .notFound)
        #expect(missing?.message.contains("NotFoundException") == true)

        // Signed with a wrong secret: moto answers 403 with the query protocol's XML error `SignatureDoesNotMatch`
        // (real KMS answers JSON `InvalidSignatureException`, mapped in KMSClientTests); no KMS error body, so
        // `other`, with the status and what moto said kept, and it is not tried again.
        let forged = await #expect(throws: KMSError.self) {
            try await client(secret: "not-the-secret", roots: roots).encrypt(
                KMSEncryptRequest(keyID: account.key, plaintext: [1])
            )
        }
        #expect(forged?.code == .other)
        #expect(forged?.message.contains("HTTP 403") == true)
        #expect(forged?.message.contains("SignatureDoesNotMatch") == true)

        // moto's certificate does not chain to another CA's root: the transport refuses it.
        let stranger = try await TestPKI.make(caName: "Somebody Else", subjectAltName: "DNS:localhost")
        defer { stranger.remove() }
        let untrusted = await #expect(throws: KMSError.self) {
            try await client(secret: account.secret, roots: try stranger.roots()).generateRandom(
                KMSGenerateRandomRequest(numberOfBytes: 8)
            )
        }
        #expect(untrusted?.code == .transport)
        #expect((untrusted?.underlying as? HTTPSClientError)?.code == .untrustedCertificate)
    }
}
