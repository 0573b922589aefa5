import AWSKMS
import AWSRequestSigning
import CloisterTestSupport
import Foundation
import NitroAttestation
import Testing

@Suite struct KMSClientTests {
    static let time: Int64 = 1_764_590_400  // 2025-12-01T12:00:00Z
    static let credentials = try! AWSCredentials(
        accessKeyID: "AKIDEXAMPLE",
        secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        sessionToken: "token-1"
    )

    static func client(
        _ transport: ScriptedTransport,
        retry: KMSRetryPolicy = KMSRetryPolicy(),
        sleeps: SleepLog = SleepLog()
    ) throws -> KMSClient {
        try KMSClient(
            host: "kms.eu-west-1.amazonaws.com",
            region: "eu-west-1",
            credentials: { credentials },
            transport: transport,
            retry: retry,
            clock: { time },
            sleep: { await sleeps.record($0) }
        )
    }

    static let encrypt = KMSEncryptRequest(
        keyID: "alias/cloister-master",
        plaintext: Array("secret".utf8),
        encryptionContext: ["cloister:purpose": "master/1", "cloister:deployment": "00ff"]
    )
    static let encrypted =
        #"{"CiphertextBlob":"AQIDBA==","KeyId":"arn:aws:kms:eu-west-1:111122223333:key/k1","EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}"#

    @Test func encryptSendsExactlyTheSignedJSON11Request() async throws {
        let transport = ScriptedTransport([ScriptedTransport.json(200, Self.encrypted)])
        let answer = try await Self.client(transport).encrypt(Self.encrypt)
        #expect(answer.ciphertextBlob == [1, 2, 3, 4])
        #expect(answer.keyID == "arn:aws:kms:eu-west-1:111122223333:key/k1")

        let sent = try #require(await transport.requests.first)
        #expect(sent.method == "POST")
        #expect(sent.path == "/")
        let body =
            #"{"EncryptionContext":{"cloister:deployment":"00ff","cloister:purpose":"master/1"},"KeyId":"alias/cloister-master","Plaintext":"c2VjcmV0"}"#
        #expect(String(decoding: sent.body, as: UTF8.self) == body)
        #expect(
            sent.headers.map(\.name) == [
                "Host", "Content-Type", "X-Amz-Target", "X-Amz-Date", "X-Amz-Security-Token", "Authorization",
            ]
        )
        #expect(sent.header("Host") == "kms.eu-west-1.amazonaws.com")
        #expect(sent.header("Content-Type") == "application/x-amz-json-1.1")
        #expect(sent.header("X-Amz-Target") == "TrentService.Encrypt")
        #expect(sent.header("X-Amz-Date") == "20251201T120000Z")
        #expect(sent.header("X-Amz-Security-Token") == "token-1")
        let authorization = try #require(sent.header("Authorization"))
        #expect(
            authorization.hasPrefix(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20251201/eu-west-1/kms/aws4_request, "
                    + "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature="
            )
        )
        // botocore's SigV4Auth (nobody here wrote it) signs the same request to the same header.
        #expect(try Self.botocoreAuthorization(sent) == authorization)
    }

    @Test func aPortOtherThan443IsInTheHostHeader() async throws {
        let transport = ScriptedTransport([ScriptedTransport.json(200, #"{"Plaintext":"AQID"}"#)])
        let client = try KMSClient(
            host: "localhost",
            port: 4566,
            region: "us-east-1",
            credentials: { Self.credentials },
            transport: transport,
            clock: { Self.time }
        )
        _ = try await client.generateRandom(KMSGenerateRandomRequest(numberOfBytes: 3))
        let sent = try #require(await transport.requests.first)
        #expect(sent.header("Host") == "localhost:4566")
        #expect(sent.header("X-Amz-Target") == "TrentService.GenerateRandom")
        #expect(String(decoding: sent.body, as: UTF8.self) == #"{"NumberOfBytes":3}"#)
    }

    /// Error answers and the code each must give.
    static let errorAnswers: [(Int, String, KMSErrorCode)] = [
        (400, #"{"__type":"NotFoundException","message":"Key 'k' does not exist"}"#, .notFound),
        (400, #"{"__type":"com.amazonaws.kms#InvalidCiphertextException"}"#, .invalidCiphertext),
        (400, #"{"__type":"AccessDeniedException","Message":"not allowed by the key policy"}"#, .accessDenied),
        (400, #"{"__type":"IncorrectKeyException"}"#, .incorrectKey),
        (400, #"{"__type":"DisabledException"}"#, .disabled),
        (400, #"{"__type":"KMSInvalidStateException"}"#, .invalidState),
        (400, #"{"__type":"InvalidKeyUsageException"}"#, .invalidKeyUsage),
        (400, #"{"__type":"InvalidSignatureException","message":"signature does not match"}"#, .invalidSignature),
        (400, #"{"__type":"ExpiredTokenException"}"#, .expiredToken),
        (400, #"{"__type":"UnrecognizedClientException"}"#, .unrecognizedClient),
        (400, #"{"__type":"ValidationException"}"#, .validation),
        (400, #"{"__type":"LimitExceededException"}"#, .other),
        (403, "<?xml version=\"1.0\"?><ErrorResponse/>", .other),
    ]

    @Test(arguments: errorAnswers)
    func errorAnswersMapToTheirCode(status: Int, body: String, code: KMSErrorCode) async throws {
        let transport = ScriptedTransport([ScriptedTransport.json(status, body)])
        let error = await #expect(throws: KMSError.self) { try await Self.client(transport).encrypt(Self.encrypt) }
        #expect(error?.code == code)
        // The status is in the message, and the `__type` and message KMS sent are kept.
        #expect(error?.message.contains("HTTP \(status)") == true)
        if let type = try? JSONDecoder().decode(KMSErrorBody.self, from: Data(body.utf8)) {
            #expect(error?.message.contains(type.type) == true)
            if let message = type.message { #expect(error?.message.contains(message) == true) }
        }
        #expect(await transport.requests.count == 1, "a 4xx is never tried again")
    }

    @Test func theErrorTypeHeaderNamesTheCodeWhenTheBodyDoesNot() async throws {
        let answer = KMSHTTPResponse(
            status: 400,
            headers: [("x-amzn-ErrorType", "DisabledException:http://internal.amazon.com/")],
            body: []
        )
        let transport = ScriptedTransport([.answer(answer)])
        let error = await #expect(throws: KMSError.self) { try await Self.client(transport).encrypt(Self.encrypt) }
        #expect(error?.code == .disabled)
    }

    /// 200 answers the client must refuse, with what makes each wrong.
    static let malformed: [(String, String)] = [
        ("not JSON", "<html>ok</html>"),
        ("an array", "[]"),
        ("no CiphertextBlob", #"{"KeyId":"k"}"#),
        ("CiphertextBlob not base64", #"{"CiphertextBlob":"%%%%","KeyId":"k"}"#),
        ("CiphertextBlob empty", #"{"CiphertextBlob":"","KeyId":"k"}"#),
        ("KeyId a number", #"{"CiphertextBlob":"AQ==","KeyId":5}"#),
        (
            "CiphertextBlob over 64 KiB",
            #"{"CiphertextBlob":"\#(Base64.encode(Array(repeating: 1, count: 65537)))","KeyId":"k"}"#
        ),
    ]

    @Test(arguments: malformed)
    func malformedAnswersAreRefused(_ why: String, body: String) async throws {
        let transport = ScriptedTransport([ScriptedTransport.json(200, body)])
        let error = await #expect(throws: KMSError.self, "\(why)") {
            try await Self.client(transport).encrypt(Self.encrypt)
        }
        #expect(error?.code == .malformedAnswer, "\(why)")
        #expect(await transport.requests.count == 1)
    }

    @Test func anAnswerOverTheBoundIsRefusedUnread() async throws {
        let huge = KMSHTTPResponse(status: 200, body: Array(repeating: 0x20, count: KMSLimits.maxAnswerBytes + 1))
        let transport = ScriptedTransport([.answer(huge)])
        let error = await #expect(throws: KMSError.self) { try await Self.client(transport).encrypt(Self.encrypt) }
        #expect(error?.code == .answerTooLarge)
    }

    @Test func decryptAnswersMustFitTheRecipientRule() async throws {
        let recipient = KMSRecipientInfo(attestationDocument: [0xD2, 0x84])
        // A plaintext answered although a recipient was named: the enclave must never take it.
        let leaked = ScriptedTransport([ScriptedTransport.json(200, #"{"KeyId":"k","Plaintext":"AQ=="}"#)])
        let e1 = await #expect(throws: KMSError.self) {
            try await Self.client(leaked).decrypt(KMSDecryptRequest(ciphertextBlob: [1], recipient: recipient))
        }
        #expect(e1?.code == .malformedAnswer)
        let both = ScriptedTransport([
            ScriptedTransport.json(200, #"{"Plaintext":"AQ==","CiphertextForRecipient":"AQ=="}"#)
        ])
        let e2 = await #expect(throws: KMSError.self) {
            try await Self.client(both).decrypt(KMSDecryptRequest(ciphertextBlob: [1]))
        }
        #expect(e2?.code == .malformedAnswer)
        let good = ScriptedTransport([ScriptedTransport.json(200, #"{"KeyId":"k","CiphertextForRecipient":"MIIB"}"#)])
        let answer = try await Self.client(good).decrypt(KMSDecryptRequest(ciphertextBlob: [1], recipient: recipient))
        #expect(answer.ciphertextForRecipient == [0x30, 0x82, 0x01])
        #expect(answer.plaintext == nil)
    }

    @Test func generateRandomMustAnswerTheNumberOfBytesAskedFor() async throws {
        let short = ScriptedTransport([ScriptedTransport.json(200, #"{"Plaintext":"AQID"}"#)])
        let error = await #expect(throws: KMSError.self) {
            try await Self.client(short).generateRandom(KMSGenerateRandomRequest(numberOfBytes: 4))
        }
        #expect(error?.code == .malformedAnswer)
    }

    @Test func aRequestPastTheBoundsIsNeverSent() async throws {
        let transport = ScriptedTransport([])
        let big = KMSEncryptRequest(keyID: "k", plaintext: Array(repeating: 0, count: 4097))
        let e1 = await #expect(throws: KMSError.self) { try await Self.client(transport).encrypt(big) }
        #expect(e1?.code == .invalidRequest)
        let e2 = await #expect(throws: KMSError.self) {
            try await Self.client(transport).generateRandom(KMSGenerateRandomRequest(numberOfBytes: 0))
        }
        #expect(e2?.code == .invalidRequest)
        #expect(await transport.requests.isEmpty)
    }

    @Test func throttledTwiceThenAnsweredSucceedsAfterBackingOff() async throws {
        let throttled = ScriptedTransport.json(400, #"{"__type":"ThrottlingException","message":"Rate exceeded"}"#)
        let transport = ScriptedTransport([throttled, throttled, ScriptedTransport.json(200, Self.encrypted)])
        let sleeps = SleepLog()
        let policy = KMSRetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(100), maxDelay: .seconds(1))
        let answer = try await Self.client(transport, retry: policy, sleeps: sleeps).encrypt(Self.encrypt)
        #expect(answer.ciphertextBlob == [1, 2, 3, 4])
        #expect(await transport.requests.count == 3)
        #expect(await sleeps.delays == [.milliseconds(100), .milliseconds(200)])
    }

    /// Failures that may pass are tried until the attempts run out; the last failure is reported.
    static let retried: [(ScriptedTransport.Step, KMSErrorCode)] = [
        (ScriptedTransport.json(500, #"{"__type":"KMSInternalException"}"#), .kmsInternal),
        (ScriptedTransport.json(503, #"{"__type":"DependencyTimeoutException"}"#), .dependencyTimeout),
        (ScriptedTransport.json(500, #"{"__type":"KeyUnavailableException"}"#), .keyUnavailable),
        (ScriptedTransport.json(502, "<html>Bad Gateway</html>"), .other),
        (.fail(CancellationError()), .transport),
    ]

    @Test(arguments: 0..<retried.count)
    func failuresThatMayPassAreTriedUpToTheBound(index: Int) async throws {
        let (step, code) = Self.retried[index]
        let transport = ScriptedTransport([step, step, step, step])
        let sleeps = SleepLog()
        let policy = KMSRetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(10), maxDelay: .milliseconds(15))
        let error = await #expect(throws: KMSError.self) {
            try await Self.client(transport, retry: policy, sleeps: sleeps).encrypt(Self.encrypt)
        }
        #expect(error?.code == code)
        #expect(await transport.requests.count == 3)
        #expect(await sleeps.delays == [.milliseconds(10), .milliseconds(15)])
    }

    @Test func aFourHundredIsNotTriedAgain() async throws {
        let denied = ScriptedTransport.json(400, #"{"__type":"AccessDeniedException"}"#)
        let transport = ScriptedTransport([denied, ScriptedTransport.json(200, Self.encrypted)])
        let sleeps = SleepLog()
        let error = await #expect(throws: KMSError.self) {
            try await Self.client(transport, sleeps: sleeps).encrypt(Self.encrypt)
        }
        #expect(error?.code == .accessDenied)
        #expect(await transport.requests.count == 1)
        #expect(await sleeps.delays.isEmpty)
    }

    @Test func eachTryIsSignedWithTheCredentialsOfTheMoment() async throws {
        let throttled = ScriptedTransport.json(400, #"{"__type":"ThrottlingException"}"#)
        let transport = ScriptedTransport([throttled, ScriptedTransport.json(200, Self.encrypted)])
        let counter = SleepLog()
        let client = try KMSClient(
            host: "kms.eu-west-1.amazonaws.com",
            region: "eu-west-1",
            credentials: {
                await counter.record(.zero)
                return try AWSCredentials(accessKeyID: "AKID\(await counter.delays.count)", secretAccessKey: "s")
            },
            transport: transport,
            clock: { Self.time },
            sleep: { _ in }
        )
        _ = try await client.encrypt(Self.encrypt)
        let authorizations = await transport.requests.compactMap { $0.header("Authorization") }
        try #require(authorizations.count == 2)
        #expect(authorizations[0].contains("Credential=AKID1/"))
        #expect(authorizations[1].contains("Credential=AKID2/"))
    }

    @Test func aFailingCredentialsProviderIsItsOwnCode() async throws {
        struct NoCredentials: Error {}
        let transport = ScriptedTransport([])
        let client = try KMSClient(
            host: "kms.eu-west-1.amazonaws.com",
            region: "eu-west-1",
            credentials: { throw NoCredentials() },
            transport: transport,
            clock: { Self.time }
        )
        let error = await #expect(throws: KMSError.self) { try await client.encrypt(Self.encrypt) }
        #expect(error?.code == .credentialsUnavailable)
        #expect(await transport.requests.isEmpty)
    }

    @Test(arguments: ["", "kms.example.com/x", "host name", String(repeating: "a", count: 254)])
    func aHostThatIsNotAHostNameIsRefused(host: String) {
        #expect(throws: KMSError(.invalidRequest, "")) {
            try KMSClient(
                host: host,
                region: "eu-west-1",
                credentials: { Self.credentials },
                transport: ScriptedTransport([])
            )
        }
    }

    @Test func delaysDoubleUpToTheCap() {
        let policy = KMSRetryPolicy(maxAttempts: 10, baseDelay: .milliseconds(100), maxDelay: .milliseconds(500))
        #expect(
            (1...5).map(policy.delay(afterAttempt:)) == [
                .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(500), .milliseconds(500),
            ]
        )
        #expect(KMSRetryPolicy(maxAttempts: 0).maxAttempts == 1)
        #expect(KMSRetryPolicy(maxAttempts: 99).maxAttempts == 10)
    }

    /// botocore's `SigV4Auth` run on the request as sent, at the same time; its `Authorization` header.
    static func botocoreAuthorization(_ request: KMSHTTPRequest) throws -> String {
        let script = """
            import datetime, json, sys
            import botocore.auth
            from botocore.awsrequest import AWSRequest
            from botocore.credentials import Credentials
            a = json.loads(sys.argv[1])
            fixed = datetime.datetime.fromtimestamp(a["time"], datetime.timezone.utc)
            botocore.auth.get_current_datetime = lambda: fixed
            request = AWSRequest(method="POST", url="https://" + a["host"] + "/", data=bytes.fromhex(a["body"]), headers=a["headers"])
            botocore.auth.SigV4Auth(Credentials(a["id"], a["secret"], a["token"]), "kms", a["region"]).add_auth(request)
            print(request.headers["Authorization"])
            """
        let unsigned = ["Host", "Content-Type", "X-Amz-Target"]
        let arguments: [String: Any] = [
            "time": time, "host": request.header("Host") ?? "", "body": Hex.encode(request.body),
            "headers": Dictionary(uniqueKeysWithValues: unsigned.map { ($0, request.header($0) ?? "") }),
            "id": credentials.accessKeyID, "secret": credentials.secretAccessKey,
            "token": credentials.sessionToken ?? "",
            "region": "eu-west-1",
        ]
        let json = String(decoding: try JSONSerialization.data(withJSONObject: arguments), as: UTF8.self)
        let run = try BuiltTool.runBlocking(
            executable: URL(fileURLWithPath: "/usr/bin/env"),
            ["python3", "-c", script, json],
            environment: [:]
        )
        let hint = run.stderr.contains("No module named") ? " (python3 has no botocore: run Scripts/bootstrap)" : ""
        try #require(run.status == 0, "python3 with botocore failed\(hint): \(run.stderr)")
        return run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
