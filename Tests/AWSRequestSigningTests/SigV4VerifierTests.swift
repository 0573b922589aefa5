import AWSRequestSigning
import CloisterTestSupport
import Foundation
import NitroAttestation
import Testing

/// The server side of SigV4 (what the emulated KMS checks): requests botocore signed (a signer nobody here wrote)
/// are accepted, and every change to one is refused by name.
@Suite struct SigV4VerifierTests {
    static let region = "eu-west-1"
    static let time: Int64 = 1_767_225_600
    static let credentials = try! AWSCredentials(accessKeyID: "ASIAEMULATEDROLE0001", secretAccessKey: "c2VjcmV0L3dpdGgrc2xhc2hlcz0=", sessionToken: "dG9rZW4=")

    /// A KMS request botocore signed at `time`, with the headers it added.
    static func botocoreSigned(body: [UInt8]) throws -> SignableRequest {
        let headers: [SignableRequest.Header] = [
            .init("Host", "kms.\(region).amazonaws.com"), .init("Content-Type", "application/x-amz-json-1.1"), .init("X-Amz-Target", "TrentService.Decrypt"),
        ]
        let arguments: [String: Any] = [
            "id": credentials.accessKeyID, "secret": credentials.secretAccessKey, "token": credentials.sessionToken!, "region": region, "service": "kms",
            "time": time, "method": "POST", "url": "https://kms.\(region).amazonaws.com/", "headers": headers.map { [$0.name, $0.value] },
            "body": Hex.encode(body), "sha256": false,
        ]
        let json = String(decoding: try JSONSerialization.data(withJSONObject: arguments), as: UTF8.self)
        let authorization = try BotocoreInteropTests.python(BotocoreInteropTests.botocoreSigns, json).trimmingCharacters(in: .whitespacesAndNewlines)
        let date = try SigV4Signer(region: region, service: "kms").sign(SignableRequest(method: "POST", headers: headers, body: body), credentials: credentials, secondsSince1970: time)
            .headers.first { $0.name == "X-Amz-Date" }!.value
        return SignableRequest(
            method: "POST", headers: headers + [.init("X-Amz-Date", date), .init("X-Amz-Security-Token", credentials.sessionToken!), .init("Authorization", authorization)],
            body: body)
    }

    static func verify(_ request: SignableRequest, now: Int64 = time, known: AWSCredentials? = credentials) throws(AWSSigningError) -> String {
        try SigV4Verifier(signer: try SigV4Signer(region: region, service: "kms")).verify(request, now: now) { id in id == known?.accessKeyID ? known : nil }
    }

    static func code(_ body: () throws -> String) -> AWSSigningErrorCode? {
        do {
            _ = try body()
            return nil
        } catch { return (error as? AWSSigningError)?.code }
    }

    @Test func acceptsWhatBotocoreSignedAndRefusesEveryChange() throws {
        let body = Array(#"{"CiphertextBlob":"AAEC"}"#.utf8)
        let signed = try Self.botocoreSigned(body: body)
        #expect(try Self.verify(signed) == Self.credentials.accessKeyID)
        #expect(try Self.verify(signed, now: Self.time + 299) == Self.credentials.accessKeyID)

        var edited = signed
        edited.body = Array(#"{"CiphertextBlob":"AAED"}"#.utf8)
        #expect(Self.code { try Self.verify(edited) } == .signatureMismatch)
        edited = signed
        edited.headers = signed.headers.map { $0.name == "X-Amz-Target" ? .init($0.name, "TrentService.Encrypt") : $0 }
        #expect(Self.code { try Self.verify(edited) } == .signatureMismatch)
        edited = signed
        edited.headers.append(.init("X-Extra", "unsigned"))
        #expect(try Self.verify(edited) == Self.credentials.accessKeyID, "an unsigned extra header is not covered, as in AWS")
        edited = signed
        edited.headers.removeAll { $0.name == "X-Amz-Security-Token" }
        #expect(Self.code { try Self.verify(edited) } == .invalidToken)
        edited = signed
        edited.headers.removeAll { $0.name == "X-Amz-Target" }
        #expect(Self.code { try Self.verify(edited) } == .unsignedHeader)

        #expect(Self.code { try Self.verify(signed, now: Self.time + 301) } == .requestTimeTooSkewed, "a replay after five minutes")
        #expect(Self.code { try Self.verify(signed, known: nil) } == .unknownAccessKey)
        let other = try AWSCredentials(accessKeyID: Self.credentials.accessKeyID, secretAccessKey: "anotherSecret0", sessionToken: Self.credentials.sessionToken)
        #expect(Self.code { try Self.verify(signed, known: other) } == .signatureMismatch)
        #expect(Self.code { try SigV4Verifier(signer: try SigV4Signer(region: "us-east-1", service: "kms")).verify(signed, now: Self.time) { _ in Self.credentials } } == .wrongScope)
    }

    @Test(arguments: [
        "", "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 Credential=A/20260101/eu-west-1/kms/aws4_request, SignedHeaders=host;x-amz-date",
        "AWS4-HMAC-SHA256 Credential=A/20260101/eu-west-1/kms/aws4_request, SignedHeaders=x-amz-date;host, Signature=" + String(repeating: "a", count: 64),
        "AWS4-HMAC-SHA256 Credential=A/20260101/eu-west-1/kms/aws4_request, Credential=B/x/y/z/w, SignedHeaders=host, Signature=" + String(repeating: "a", count: 64),
        "AWS4-HMAC-SHA256 Credential=A/20260101/eu-west-1/kms/aws4_request, SignedHeaders=host, Signature=" + String(repeating: "A", count: 64),
        "Basic dXNlcjpwYXNz",
    ])
    func refusesMalformedAuthorizations(header: String) {
        #expect(throws: AWSSigningError(.malformedAuthorization, "")) { _ = try SigV4Verifier.Authorization(header) }
    }
}
