import AWSRequestSigning
import Testing

/// SigV4Signer against the known answers of the AWS SigV4 test suite, taken as data from aws-c-auth
/// (GitHub awslabs/aws-c-auth, tests/aws-signing-test-suite/v4, Apache-2.0): see `SigV4Vector` and Vectors/README.md.
@Suite struct SigV4VectorTests {
    @Test(arguments: try SigV4Vector.supported())
    func signingGivesTheCanonicalRequestStringToSignAndSignature(vector: SigV4Vector) throws {
        let credentials = try AWSCredentials(
            accessKeyID: vector.context.credentials.access_key_id,
            secretAccessKey: vector.context.credentials.secret_access_key,
            sessionToken: vector.context.credentials.token
        )
        let signer = try SigV4Signer(
            region: vector.context.region,
            service: vector.context.service,
            signsContentSHA256: vector.context.sign_body
        )
        let signed = try signer.sign(
            vector.request(),
            credentials: credentials,
            secondsSince1970: vector.secondsSince1970
        )
        #expect(signed.canonicalRequest == vector.canonicalRequest)
        #expect(signed.stringToSign == vector.stringToSign)
        #expect(signed.signature == vector.signature)
        #expect(signed.authorization.hasSuffix("Signature=\(vector.signature)"))
    }

    /// Cases whose option this signer does not offer are named here with the reason, so none is dropped silently:
    /// unnormalised paths (S3 only), a session token added after signing, and obsolete line folding.
    @Test func onlyTheCasesOfUnsupportedOptionsAreSkipped() throws {
        let all = try SigV4Vector.load()
        let skipped = all.filter { $0.unsupported != nil }.map(\.name).sorted()
        #expect(all.count == 38)
        #expect(
            skipped == [
                "get-header-value-multiline", "get-relative-relative-unnormalized", "get-relative-unnormalized",
                "get-slash-dot-slash-unnormalized", "get-slash-pointless-dot-unnormalized", "get-slash-unnormalized",
                "get-slashes-unnormalized", "get-space-unnormalized", "post-sts-header-after",
            ]
        )
        for vector in all where vector.unsupported != nil {
            print("SigV4 vector \(vector.name) not run: \(vector.unsupported!)")
        }
    }

    /// get-header-value-multiline's folded header is refused with its code rather than signed some other way.
    @Test func aFoldedHeaderIsRefused() throws {
        let credentials = try AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "secret")
        let request = SignableRequest(
            method: "GET",
            headers: [.init("Host", "example.amazonaws.com"), .init("My-Header1", "value1\n  value2")]
        )
        #expect(throws: AWSSigningError(.invalidHeaderValue, "")) {
            try SigV4Signer(region: "us-east-1", service: "service").sign(
                request,
                credentials: credentials,
                secondsSince1970: 0
            )
        }
    }
}
