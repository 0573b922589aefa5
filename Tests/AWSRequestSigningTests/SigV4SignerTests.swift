import AWSRequestSigning
import Foundation
import NitroAttestation
import Testing

/// The input rules of docs/sigv4.md, each refused with its own code, and the headers signing adds.
@Suite struct SigV4SignerTests {
    static let credentials = try! AWSCredentials(
        accessKeyID: "AKIDEXAMPLE",
        secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    )
    static let kms = try! SigV4Signer(region: "eu-west-1", service: "kms")
    static let time: Int64 = 1_440_938_160  // 2015-08-30T12:36:00Z

    static func request(
        method: String = "POST",
        path: String = "/",
        query: [SignableRequest.QueryItem] = [],
        headers: [SignableRequest.Header] = [.init("Host", "kms.eu-west-1.amazonaws.com")]
    ) -> SignableRequest {
        SignableRequest(method: method, path: path, query: query, headers: headers, body: Array("{}".utf8))
    }

    struct Hostile: Sendable, CustomTestStringConvertible {
        let name: String
        let request: SignableRequest
        let code: AWSSigningErrorCode
        var testDescription: String { name }
    }

    static let host = SignableRequest.Header("Host", "kms.eu-west-1.amazonaws.com")

    static let hostile: [Hostile] = [
        .init(name: "lower-case method", request: request(method: "post"), code: .invalidMethod),
        .init(name: "non-ASCII method", request: request(method: "PÖST"), code: .invalidMethod),
        .init(name: "empty method", request: request(method: ""), code: .invalidMethod),
        .init(name: "method with a space", request: request(method: "POST /"), code: .invalidMethod),
        .init(name: "relative path", request: request(path: "example"), code: .invalidPath),
        .init(name: "empty path", request: request(path: ""), code: .invalidPath),
        .init(name: "query in the path", request: request(path: "/?a=b"), code: .invalidPath),
        .init(name: "fragment in the path", request: request(path: "/#a"), code: .invalidPath),
        .init(name: "CRLF in the path", request: request(path: "/\r\nHost: evil"), code: .invalidPath),
        .init(
            name: "oversized path",
            request: request(path: "/" + String(repeating: "a", count: 2048)),
            code: .invalidPath
        ),
        .init(name: "NUL in a query value", request: request(query: [.init("a", "b\u{0}")]), code: .invalidQueryItem),
        .init(name: "LF in a query name", request: request(query: [.init("a\n", "b")]), code: .invalidQueryItem),
        .init(
            name: "too many query items",
            request: request(query: (0...100).map { .init("p\($0)", "v") }),
            code: .tooManyQueryItems
        ),
        .init(name: "empty header name", request: request(headers: [host, .init("", "v")]), code: .invalidHeaderName),
        .init(
            name: "space in a header name",
            request: request(headers: [host, .init("My Header", "v")]),
            code: .invalidHeaderName
        ),
        .init(
            name: "colon in a header name",
            request: request(headers: [host, .init("A:b", "v")]),
            code: .invalidHeaderName
        ),
        .init(
            name: "non-ASCII header name",
            request: request(headers: [host, .init("Größe", "v")]),
            code: .invalidHeaderName
        ),
        .init(
            name: "CRLF in a header value",
            request: request(headers: [host, .init("A", "v\r\nX-Amz-Date: 1")]),
            code: .invalidHeaderValue
        ),
        .init(
            name: "NUL in a header value",
            request: request(headers: [host, .init("A", "v\u{0}")]),
            code: .invalidHeaderValue
        ),
        .init(
            name: "tab in a header value",
            request: request(headers: [host, .init("A", "a\tb")]),
            code: .invalidHeaderValue
        ),
        .init(
            name: "DEL in a header value",
            request: request(headers: [host, .init("A", "a\u{7F}")]),
            code: .invalidHeaderValue
        ),
        .init(
            name: "non-ASCII header value",
            request: request(headers: [host, .init("A", "café")]),
            code: .invalidHeaderValue
        ),
        .init(
            name: "oversized header value",
            request: request(headers: [host, .init("A", String(repeating: "v", count: 8193))]),
            code: .invalidHeaderValue
        ),
        .init(
            name: "too many headers",
            request: request(headers: [host] + (0..<100).map { .init("X-H\($0)", "v") }),
            code: .tooManyHeaders
        ),
        .init(
            name: "a caller's Authorization",
            request: request(headers: [host, .init("authorization", "x")]),
            code: .reservedHeader
        ),
        .init(
            name: "a caller's X-Amz-Date",
            request: request(headers: [host, .init("X-AMZ-DATE", "x")]),
            code: .reservedHeader
        ),
        .init(
            name: "a caller's X-Amz-Security-Token",
            request: request(headers: [host, .init("X-Amz-Security-Token", "x")]),
            code: .reservedHeader
        ),
        .init(
            name: "a caller's X-Amz-Content-Sha256",
            request: request(headers: [host, .init("x-amz-content-sha256", "x")]),
            code: .reservedHeader
        ),
        .init(
            name: "no Host",
            request: request(headers: [.init("X-Amz-Target", "TrentService.Encrypt")]),
            code: .invalidHost
        ),
        .init(name: "two Hosts", request: request(headers: [host, .init("host", "evil.example")]), code: .invalidHost),
        .init(name: "blank Host", request: request(headers: [.init("Host", "   ")]), code: .invalidHost),
    ]

    @Test(arguments: hostile)
    func hostileRequestsAreRefusedWithTheirCode(case: Hostile) {
        #expect(throws: AWSSigningError(`case`.code, "")) {
            try Self.kms.sign(`case`.request, credentials: Self.credentials, secondsSince1970: Self.time)
        }
    }

    @Test(arguments: [
        "", "US-EAST-1", "us_east_1", "us-east-1/", "eu-west-1\n", "é", String(repeating: "a", count: 64),
    ])
    func badRegionsAreRefused(region: String) {
        #expect(throws: AWSSigningError(.invalidRegion, "")) { try SigV4Signer(region: region, service: "kms") }
    }

    @Test(arguments: ["", "KMS", "kms/aws4_request", "k ms", "kms\u{0}"])
    func badServicesAreRefused(service: String) {
        #expect(throws: AWSSigningError(.invalidService, "")) { try SigV4Signer(region: "us-east-1", service: service) }
    }

    @Test(arguments: [Int64(-1), Int64.min, 253_402_300_800, Int64.max])
    func timesOutsideFourDigitYearsAreRefused(time: Int64) {
        #expect(throws: AWSSigningError(.timeOutOfRange, "")) {
            try Self.kms.sign(Self.request(), credentials: Self.credentials, secondsSince1970: time)
        }
    }

    @Test func theLastWritableSecondIsSigned() throws {
        let signed = try Self.kms.sign(Self.request(), credentials: Self.credentials, secondsSince1970: 253_402_300_799)
        #expect(signed.headers.first == .init("X-Amz-Date", "99991231T235959Z"))
        #expect(signed.stringToSign.contains("\n99991231/eu-west-1/kms/aws4_request\n"))
    }

    @Test(
        arguments: [
            ("", "secret", nil, AWSSigningErrorCode.invalidAccessKeyID),
            ("AKID/EXAMPLE", "secret", nil, .invalidAccessKeyID),
            ("AKID EXAMPLE", "secret", nil, .invalidAccessKeyID),
            (String(repeating: "A", count: 129), "secret", nil, .invalidAccessKeyID),
            ("AKIDEXAMPLE", "", nil, .invalidSecretAccessKey),
            ("AKIDEXAMPLE", "sec ret", nil, .invalidSecretAccessKey),
            ("AKIDEXAMPLE", "secret\n", nil, .invalidSecretAccessKey),
            ("AKIDEXAMPLE", String(repeating: "s", count: 129), nil, .invalidSecretAccessKey),
            ("AKIDEXAMPLE", "secret", "", .invalidSessionToken),
            ("AKIDEXAMPLE", "secret", "tok\r\nen", .invalidSessionToken),
            ("AKIDEXAMPLE", "secret", String(repeating: "t", count: 8193), .invalidSessionToken),
        ] as [(String, String, String?, AWSSigningErrorCode)]
    )
    func badCredentialsAreRefused(id: String, secret: String, token: String?, code: AWSSigningErrorCode) {
        #expect(throws: AWSSigningError(code, "")) {
            try AWSCredentials(accessKeyID: id, secretAccessKey: secret, sessionToken: token)
        }
    }

    @Test func signingAddsTheDateTheTokenTheBodyHashAndAuthorizationInThatOrder() throws {
        let credentials = try AWSCredentials(
            accessKeyID: "AKIDEXAMPLE",
            secretAccessKey: "secret",
            sessionToken: "token"
        )
        let signer = try SigV4Signer(region: "eu-west-1", service: "kms", signsContentSHA256: true)
        let signed = try signer.sign(Self.request(), credentials: credentials, secondsSince1970: Self.time)
        #expect(
            signed.headers.map(\.name) == [
                "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256", "Authorization",
            ]
        )
        #expect(signed.headers[2].value == Hex.encode(SHA.sha256(Array("{}".utf8))))
        #expect(
            signed.authorization
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-1/kms/aws4_request, "
                + "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=\(signed.signature)"
        )
    }

    @Test func everyCodeIsDocumented() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let page = try String(contentsOf: root.appendingPathComponent("docs/sigv4.md"), encoding: .utf8)
        for code in AWSSigningErrorCode.allCases {
            #expect(page.contains("`\(code.rawValue)`"), "\(code) is not in docs/sigv4.md")
        }
    }
}
