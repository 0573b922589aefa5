import NitroAttestation

/// Checks a SigV4-signed request the way an AWS service does: the scope names this region, service and the
/// request's date; the time is within `maximumSkew` of the server's clock; the access key is known and its session
/// token matches; `host` and `x-amz-date` are signed; and the signature is what the secret gives for the request
/// as received. The signature is recomputed with `SigV4Signer`, so signing and checking are one construction.
public struct SigV4Verifier: Sendable {
    public let signer: SigV4Signer
    /// How far `X-Amz-Date` may be from the server's clock (AWS: 5 minutes).
    public let maximumSkew: Int64

    public init(signer: SigV4Signer, maximumSkew: Int64 = 300) {
        self.signer = signer
        self.maximumSkew = maximumSkew
    }

    /// The parts of `Authorization: AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
    /// SignedHeaders=a;b, Signature=HEX`.
    public struct Authorization: Sendable, Hashable {
        public let accessKeyID: String
        public let scope: [String]
        public let signedHeaders: [String]
        public let signature: String

        public init(_ header: String) throws(AWSSigningError) {
            let prefix = SigV4Signer.algorithm + " "
            guard header.hasPrefix(prefix), header.utf8.count <= 4096 else {
                throw AWSSigningError(.malformedAuthorization, "not an \(SigV4Signer.algorithm) authorization")
            }
            var fields: [String: String] = [:]
            for part in header.dropFirst(prefix.count).split(separator: ",") {
                let trimmed = part.drop(while: { $0 == " " })
                guard let eq = trimmed.firstIndex(of: "=") else { throw AWSSigningError(.malformedAuthorization, "a field without =") }
                let name = String(trimmed[..<eq])
                guard fields[name] == nil else { throw AWSSigningError(.malformedAuthorization, "\(name) given twice") }
                fields[name] = String(trimmed[trimmed.index(after: eq)...])
            }
            guard fields.count == 3, let credential = fields["Credential"], let signed = fields["SignedHeaders"], let signature = fields["Signature"]
            else { throw AWSSigningError(.malformedAuthorization, "needs exactly Credential, SignedHeaders and Signature") }
            let scope = credential.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard scope.count == 5, !scope[0].isEmpty else { throw AWSSigningError(.malformedAuthorization, "Credential is not AKID/DATE/REGION/SERVICE/aws4_request") }
            guard signature.utf8.count == 64, signature.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
                throw AWSSigningError(.malformedAuthorization, "Signature is not 64 lower-case hex digits")
            }
            let headers = signed.split(separator: ";", omittingEmptySubsequences: false).map(String.init)
            guard !headers.contains(where: \.isEmpty), headers == headers.sorted(), Set(headers).count == headers.count else {
                throw AWSSigningError(.malformedAuthorization, "SignedHeaders is not a sorted list of distinct names")
            }
            accessKeyID = scope[0]
            self.scope = Array(scope.dropFirst())
            signedHeaders = headers
            self.signature = signature
        }
    }

    /// The access key id of `request` (with its `Authorization`, `X-Amz-Date` and maybe `X-Amz-Security-Token`
    /// headers) once its signature checks; `credentials` finds the secret and token issued with an access key id.
    public func verify(
        _ request: SignableRequest, now: Int64, credentials: (String) -> AWSCredentials?
    ) throws(AWSSigningError) -> String {
        func header(_ name: String) -> [String] { request.headers.filter { $0.name.lowercased() == name }.map(\.value) }
        guard let authorizationText = header("authorization").first, header("authorization").count == 1 else {
            throw AWSSigningError(.malformedAuthorization, "no Authorization header, or more than one")
        }
        let authorization = try Authorization(authorizationText)
        let dates = header("x-amz-date")
        guard dates.count == 1, let seconds = Self.seconds(amzDate: dates[0]) else {
            throw AWSSigningError(.requestTimeTooSkewed, "X-Amz-Date is missing or not YYYYMMDDTHHMMSSZ")
        }
        guard abs(seconds - now) <= maximumSkew else {
            throw AWSSigningError(.requestTimeTooSkewed, "X-Amz-Date is \(seconds - now) s from the server's clock (at most \(maximumSkew))")
        }
        guard authorization.scope == [String(dates[0].prefix(8)), signer.region, signer.service, "aws4_request"] else {
            throw AWSSigningError(.wrongScope, "the credential scope \(authorization.scope.joined(separator: "/")) is not this request's date, \(signer.region) and \(signer.service)")
        }
        guard let known = credentials(authorization.accessKeyID) else {
            throw AWSSigningError(.unknownAccessKey, "access key \(authorization.accessKeyID.prefix(32)) is not known here")
        }
        let tokens = header("x-amz-security-token")
        guard tokens.count <= 1, tokens.first == known.sessionToken else {
            throw AWSSigningError(.invalidToken, "the session token is missing or not the one issued with this access key")
        }
        guard authorization.signedHeaders.contains("host"), authorization.signedHeaders.contains("x-amz-date") else {
            throw AWSSigningError(.unsignedHeader, "SignedHeaders must include host and x-amz-date")
        }
        // What the client signed, less what the signer adds itself.
        let added: Set<String> = ["x-amz-date", "x-amz-security-token", "x-amz-content-sha256", "authorization"]
        var signable = request
        signable.headers = request.headers.filter { !added.contains($0.name.lowercased()) && authorization.signedHeaders.contains($0.name.lowercased()) }
        let covered = Set(signable.headers.map { $0.name.lowercased() }).union(tokens.isEmpty ? ["x-amz-date"] : ["x-amz-date", "x-amz-security-token"])
        guard covered == Set(authorization.signedHeaders) else {
            throw AWSSigningError(.unsignedHeader, "SignedHeaders does not name exactly the headers the request carries for signing")
        }
        let expected = try signer.sign(signable, credentials: known, secondsSince1970: seconds)
        guard ConstantTime.equal(Array(expected.signature.utf8), Array(authorization.signature.utf8)) else {
            throw AWSSigningError(.signatureMismatch, "the signature does not match the request and the secret")
        }
        return authorization.accessKeyID
    }

    /// Seconds since 1970 of `YYYYMMDDTHHMMSSZ`.
    static func seconds(amzDate text: String) -> Int64? {
        let b = Array(text.utf8)
        guard b.count == 16, b[8] == UInt8(ascii: "T"), b[15] == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var n: Int64 = 0
            for c in b[range] {
                guard (0x30...0x39).contains(c) else { return nil }
                n = n * 10 + Int64(c - 0x30)
            }
            return n
        }
        guard let y = number(0..<4), let mo = number(4..<6), let d = number(6..<8), let h = number(9..<11), let mi = number(11..<13),
            let s = number(13..<15), (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 60
        else { return nil }
        // Days from civil (Howard Hinnant's algorithm).
        let yy = mo <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        let seconds = days * 86_400 + h * 3600 + mi * 60 + s
        // Round-trip to refuse dates that do not exist (February 30th).
        guard let back = try? AmzDate(secondsSince1970: seconds), back.timestamp == text else { return nil }
        return seconds
    }
}
