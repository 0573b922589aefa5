import NitroAttestation

/// Why a KMS call failed: a `KMSErrorCode`, a message that keeps what KMS said (its `__type` and message) and the
/// cause another layer reported. Equality compares the code only.
public typealias KMSError = CodedError<KMSErrorCode>

/// What went wrong with a KMS call. The raw value is the stable name used in docs/kms-client.md; the codes from
/// `accessDenied` to `kmsInternal` stand for one AWS `__type` each (`KMSErrorCode.awsType(for:)`).
public enum KMSErrorCode: String, Sendable, CaseIterable, Codable {
    // What KMS answered
    /// `AccessDeniedException`: the key policy or IAM refused the call (for a recipient: the attestation document's
    /// measurements do not meet the policy's conditions).
    case accessDenied
    /// `NotFoundException`: no key by that id, ARN or alias.
    case notFound
    /// `InvalidCiphertextException`: the ciphertext is damaged, or the encryption context differs from the one it
    /// was made with.
    case invalidCiphertext
    /// `IncorrectKeyException`: the ciphertext was made under another key than the `KeyId` named.
    case incorrectKey
    /// `DisabledException`: the key is disabled.
    case disabled
    /// `KMSInvalidStateException`: the key is pending deletion, pending import or otherwise not usable now.
    case invalidState
    /// `InvalidKeyUsageException`: the key is not for encrypting and decrypting, or the algorithm does not fit it.
    case invalidKeyUsage
    /// `KeyUnavailableException`: the key's material cannot be reached now.
    case keyUnavailable
    /// `DependencyTimeoutException`: KMS timed out on a system it depends on; retried.
    case dependencyTimeout
    /// `ThrottlingException`: over the request rate; retried.
    case throttled
    /// `InvalidSignatureException`: the SigV4 signature does not match (a wrong secret, or the request changed).
    case invalidSignature
    /// `ExpiredTokenException`: the session token has expired.
    case expiredToken
    /// `UnrecognizedClientException`: the access key id or session token is not known.
    case unrecognizedClient
    /// `ValidationException`: a parameter broke one of KMS's rules.
    case validation
    /// `KMSInternalException`: KMS failed internally; retried.
    case kmsInternal
    /// An error answer this client has no code for: another `__type`, or a non-200 answer without one (its status
    /// and the start of its body are in the message).
    case other

    // What this client found
    /// The request breaks a bound before it is sent (a field's size, a count) or could not be signed.
    case invalidRequest
    /// The credentials provider failed.
    case credentialsUnavailable
    /// The transport failed: no connection, TLS refused, a timeout, the connection closed early; retried.
    case transport
    /// A 200 answer is not the operation's JSON, breaks a bound, or does not fit the request (docs/kms-client.md).
    case malformedAnswer
    /// The answer's body is larger than the client accepts.
    case answerTooLarge

    /// The AWS `__type` names and the codes they map to, in the order of the cases above.
    static let awsTypes: [(String, KMSErrorCode)] = [
        ("AccessDeniedException", .accessDenied), ("NotFoundException", .notFound),
        ("InvalidCiphertextException", .invalidCiphertext), ("IncorrectKeyException", .incorrectKey),
        ("DisabledException", .disabled), ("KMSInvalidStateException", .invalidState),
        ("InvalidKeyUsageException", .invalidKeyUsage), ("KeyUnavailableException", .keyUnavailable),
        ("DependencyTimeoutException", .dependencyTimeout), ("ThrottlingException", .throttled),
        ("InvalidSignatureException", .invalidSignature), ("ExpiredTokenException", .expiredToken),
        ("UnrecognizedClientException", .unrecognizedClient), ("ValidationException", .validation),
        ("KMSInternalException", .kmsInternal),
    ]

    /// The code for an AWS `__type` as KMS sends it, bare (`NotFoundException`) or with a namespace
    /// (`com.amazonaws.kms#NotFoundException`) or a trailing `:<uri>` (the `X-Amzn-ErrorType` header's form);
    /// `other` for a name not in the table.
    public init(awsType: String) {
        var name = Substring(awsType)
        if let hash = name.lastIndex(of: "#") { name = name[name.index(after: hash)...] }
        if let colon = name.firstIndex(of: ":") { name = name[..<colon] }
        self = Self.awsTypes.first { $0.0 == name }?.1 ?? .other
    }

    /// The bare AWS `__type` name `code` stands for (`NotFoundException` for `notFound`), or nil for the codes this
    /// client reports itself and for `other`. An emulated KMS writes its error answers with it.
    public static func awsType(for code: KMSErrorCode) -> String? {
        awsTypes.first { $0.1 == code }?.0
    }
}
