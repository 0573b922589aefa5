/// The credentials a request is signed with: an access key id, its secret and, for temporary credentials, the
/// session token that is sent (and signed) as `X-Amz-Security-Token`.
public struct AWSCredentials: Sendable, Hashable {
    /// The access key id, named in the credential scope of the `Authorization` header.
    public let accessKeyID: String
    /// The secret the signing key is derived from; never sent.
    public let secretAccessKey: String
    /// The session token of temporary credentials, or nil for long-term ones.
    public let sessionToken: String?

    /// Credentials checked against the rules in docs/sigv4.md; throws `invalidAccessKeyID`,
    /// `invalidSecretAccessKey` or `invalidSessionToken`.
    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) throws(AWSSigningError) {
        let id = Array(accessKeyID.utf8)
        guard (1...128).contains(id.count), id.allSatisfy(Self.isAlphanumeric) else {
            throw AWSSigningError(.invalidAccessKeyID, "\(id.count) bytes; 1...128 of A-Z, a-z, 0-9 accepted")
        }
        let secret = Array(secretAccessKey.utf8)
        guard (1...128).contains(secret.count), secret.allSatisfy(Self.isPrintable) else {
            throw AWSSigningError(.invalidSecretAccessKey, "\(secret.count) bytes; 1...128 of printable ASCII accepted")
        }
        if let sessionToken {
            let token = Array(sessionToken.utf8)
            guard (1...8192).contains(token.count), token.allSatisfy(Self.isPrintable) else {
                throw AWSSigningError(
                    .invalidSessionToken,
                    "\(token.count) bytes; 1...8192 of printable ASCII accepted"
                )
            }
        }
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    static func isAlphanumeric(_ c: UInt8) -> Bool {
        (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c)
    }

    static func isPrintable(_ c: UInt8) -> Bool { (0x21...0x7E).contains(c) }
}
