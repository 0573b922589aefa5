import AWSRequestSigning
import CloisterTestSupport
import Foundation
import NitroAttestation
import Testing

/// SigV4Signer against botocore's `SigV4Auth` (PyPI `botocore`, the AWS SDK for Python's signer, which nobody here
/// wrote), run as a python3 subprocess on the same KMS-shaped requests, credentials and fixed time. Scripts/bootstrap
/// installs botocore; without it these tests fail rather than skip.
@Suite struct BotocoreInteropTests {
    /// argv[1]: JSON {id, secret, token, region, service, time, method, url, headers: [[name, value]], body (hex),
    /// sha256}. Prints the Authorization header.
    static let botocoreSigns = """
        import datetime, hashlib, json, sys
        import botocore.auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        a = json.loads(sys.argv[1])
        fixed = datetime.datetime.fromtimestamp(a["time"], datetime.timezone.utc)
        botocore.auth.get_current_datetime = lambda: fixed
        body = bytes.fromhex(a["body"])
        headers = [(n, v) for n, v in a["headers"]]
        if a["sha256"]:
            headers.append(("X-Amz-Content-Sha256", hashlib.sha256(body).hexdigest()))
        request = AWSRequest(method=a["method"], url=a["url"], data=body, headers=dict(headers))
        credentials = Credentials(a["id"], a["secret"], a["token"] or None)
        botocore.auth.SigV4Auth(credentials, a["service"], a["region"]).add_auth(request)
        print(request.headers["Authorization"])
        """

    struct Case: Sendable, CustomTestStringConvertible {
        let number: Int
        let sessionToken: Bool
        let signsContentSHA256: Bool
        var testDescription: String { "request \(number), token \(sessionToken), content sha256 \(signsContentSHA256)" }
    }

    static let cases: [Case] = (0..<8).map { (i: Int) -> Case in
        Case(number: i, sessionToken: i % 2 == 1, signsContentSHA256: i % 4 == 3)
    }

    @Test(arguments: cases)
    func botocoreSignsKMSRequestsTheSameWay(case: Case) throws {
        var rng = SystemRandomNumberGenerator()
        let operations = ["Encrypt", "Decrypt", "GenerateDataKey", "GetPublicKey", "Sign"]
        let regions = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1"]
        let region = regions[Int(rng.next() % UInt64(regions.count))]
        let host = "kms.\(region).amazonaws.com"
        let body = (0..<Int(rng.next() % 2048)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        // Odd spacing: leading, trailing and repeated spaces, which both sides must trim and collapse alike.
        let headers: [SignableRequest.Header] = [
            .init("Host", host),
            .init("Content-Type", "  application/x-amz-json-1.1 "),
            .init("X-Amz-Target", "TrentService.\(operations[Int(rng.next() % UInt64(operations.count))])"),
            .init("X-Cloister-Note", " a   b    c  \(rng.next())   "),
            .init("Content-Length", String(body.count)),
        ]
        let token =
            `case`.sessionToken ? Base64.encode((0..<300).map { _ in UInt8(truncatingIfNeeded: rng.next()) }) : nil
        let credentials = try AWSCredentials(
            accessKeyID: "AKIA" + Hex.encode((0..<8).map { _ in UInt8(truncatingIfNeeded: rng.next()) }).uppercased(),
            secretAccessKey: Base64.encode((0..<30).map { _ in UInt8(truncatingIfNeeded: rng.next()) }),
            sessionToken: token
        )
        let time = Int64(1_600_000_000 + rng.next() % 400_000_000)

        let signer = try SigV4Signer(region: region, service: "kms", signsContentSHA256: `case`.signsContentSHA256)
        let signed = try signer.sign(
            SignableRequest(method: "POST", headers: headers, body: body),
            credentials: credentials,
            secondsSince1970: time
        )

        let arguments: [String: Any] = [
            "id": credentials.accessKeyID, "secret": credentials.secretAccessKey, "token": token ?? "",
            "region": region,
            "service": "kms", "time": time, "method": "POST", "url": "https://\(host)/",
            "headers": headers.map { [$0.name, $0.value] }, "body": Hex.encode(body),
            "sha256": `case`.signsContentSHA256,
        ]
        let json = String(decoding: try JSONSerialization.data(withJSONObject: arguments), as: UTF8.self)
        let authorization = try Self.python(Self.botocoreSigns, json).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(signed.authorization == authorization)
        #expect(signed.headers.contains { $0.name == "X-Amz-Security-Token" } == `case`.sessionToken)
    }

    /// Runs `script` with `python3 -c` and one argument; its standard output, or a failure that says what python3 said.
    static func python(_ script: String, _ argument: String) throws -> String {
        let run = try BuiltTool.runBlocking(executable: URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script, argument], environment: [:])
        let hint = run.stderr.contains("No module named") ? " (python3 has no botocore: run Scripts/bootstrap)" : ""
        try #require(run.status == 0, "python3 with botocore failed\(hint): \(run.stderr)")
        return run.stdout
    }
}
