import AWSKMS
import Testing

@Suite struct KMSErrorCodeTests {
    /// Each `__type` KMS documents for Encrypt, Decrypt and GenerateRandom, bare, with the Smithy namespace, and in
    /// the `X-Amzn-ErrorType` header's `Name:uri` form.
    static let table: [(String, KMSErrorCode)] = [
        ("AccessDeniedException", .accessDenied), ("NotFoundException", .notFound),
        ("com.amazonaws.kms#NotFoundException", .notFound), ("InvalidCiphertextException", .invalidCiphertext),
        ("IncorrectKeyException", .incorrectKey), ("DisabledException", .disabled),
        ("KMSInvalidStateException", .invalidState), ("InvalidKeyUsageException", .invalidKeyUsage),
        ("KeyUnavailableException", .keyUnavailable), ("DependencyTimeoutException", .dependencyTimeout),
        ("ThrottlingException", .throttled), ("com.amazonaws.kms#ThrottlingException", .throttled),
        ("InvalidSignatureException", .invalidSignature), ("ExpiredTokenException", .expiredToken),
        ("UnrecognizedClientException", .unrecognizedClient), ("ValidationException", .validation),
        ("KMSInternalException", .kmsInternal),
        ("NotFoundException:http://internal.amazon.com/coral/com.amazonaws.kms/", .notFound),
        ("LimitExceededException", .other), ("", .other), ("notfoundexception", .other),
    ]

    @Test(arguments: table)
    func awsTypeMapsToItsCode(type: String, code: KMSErrorCode) {
        #expect(KMSErrorCode(awsType: type) == code)
    }

    @Test(arguments: KMSErrorCode.allCases)
    func awsTypeRoundTrips(code: KMSErrorCode) {
        if let name = KMSErrorCode.awsType(for: code) {
            #expect(KMSErrorCode(awsType: name) == code)
            #expect(KMSErrorBody(code: code).type == name)
        } else {
            // Only the client's own codes and `other` have no AWS name.
            #expect(
                [.other, .invalidRequest, .credentialsUnavailable, .transport, .malformedAnswer, .answerTooLarge]
                    .contains(code)
            )
        }
    }
}
