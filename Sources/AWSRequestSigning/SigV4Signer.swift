import NitroAttestation
import SecureModule

/// Signs requests with AWS Signature Version 4 (`AWS4-HMAC-SHA256`, signed headers) for one region and one
/// service other than S3. A pure value: the time is given to each call, nothing is read or sent.
///
/// ```swift
/// let signer = try SigV4Signer(region: "eu-west-1", service: "kms")
/// let signed = try signer.sign(request, credentials: credentials, secondsSince1970: now)
/// // Send request.headers + signed.headers.
/// ```
public struct SigV4Signer: Sendable, Hashable {
    /// The algorithm name that opens the string to sign and the `Authorization` header.
    public static let algorithm = "AWS4-HMAC-SHA256"

    /// The region of the credential scope (`us-east-1`).
    public let region: String
    /// The service of the credential scope (`kms`).
    public let service: String
    /// Whether `X-Amz-Content-Sha256` (the body's hash) is added and signed; some services require it, KMS does not.
    public let signsContentSHA256: Bool

    /// A signer for `region` and `service`; throws `invalidRegion` or `invalidService`.
    public init(region: String, service: String, signsContentSHA256: Bool = false) throws(AWSSigningError) {
        guard Self.isScopeName(region) else {
            throw AWSSigningError(.invalidRegion, "\"\(region)\" is not 1...63 of a-z, 0-9, -")
        }
        guard Self.isScopeName(service) else {
            throw AWSSigningError(.invalidService, "\"\(service)\" is not 1...63 of a-z, 0-9, -")
        }
        self.region = region
        self.service = service
        self.signsContentSHA256 = signsContentSHA256
    }

    /// The headers that sign `request` with `credentials` at `secondsSince1970`, with the canonical request and
    /// string to sign they cover. Throws the first rule of docs/sigv4.md the request breaks.
    public func sign(
        _ request: SignableRequest,
        credentials: AWSCredentials,
        secondsSince1970: Int64
    )
        throws(AWSSigningError) -> SignedRequest
    {
        let time = try AmzDate(secondsSince1970: secondsSince1970)
        try Self.check(request)
        let payloadHash = Hex.encode(SHA.sha256(request.body))

        var added = [SignableRequest.Header("X-Amz-Date", time.timestamp)]
        if let token = credentials.sessionToken { added.append(.init("X-Amz-Security-Token", token)) }
        if signsContentSHA256 { added.append(.init("X-Amz-Content-Sha256", payloadHash)) }

        let canonical = CanonicalRequest(
            method: request.method,
            path: request.path,
            query: request.query,
            headers: request.headers + added,
            payloadHash: payloadHash
        )
        let scope = [time.date, region, service, "aws4_request"].joined(separator: "/")
        let stringToSign = [Self.algorithm, time.timestamp, scope, Hex.encode(SHA.sha256(Array(canonical.text.utf8)))]
            .joined(separator: "\n")
        let key = signingKey(secret: credentials.secretAccessKey, date: time.date)
        let signature = Hex.encode(HKDF.hmac(.sha256, key: key, Array(stringToSign.utf8)))
        let authorization =
            "\(Self.algorithm) Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(canonical.signedHeaders), "
            + "Signature=\(signature)"
        return SignedRequest(
            headers: added + [.init("Authorization", authorization)],
            canonicalRequest: canonical.text,
            stringToSign: stringToSign,
            signature: signature
        )
    }

    /// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
    func signingKey(secret: String, date: String) -> [UInt8] {
        [date, region, service, "aws4_request"].reduce(Array("AWS4\(secret)".utf8)) { key, part in
            HKDF.hmac(.sha256, key: key, Array(part.utf8))
        }
    }

    static func isScopeName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        return (1...63).contains(bytes.count)
            && bytes.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == UInt8(ascii: "-") }
    }
}
