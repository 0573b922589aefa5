import Foundation

/// Temporary AWS credentials of the instance's IAM role, as the metadata service hands them out.
///
/// The description never shows the secret key or the session token.
public struct InstanceCredentials: Sendable, Equatable, CustomStringConvertible {
    /// The access key id (`ASIA…`).
    public let accessKeyID: String
    /// The secret access key.
    public let secretAccessKey: String
    /// The session token that must accompany every signed request.
    public let sessionToken: String
    /// When AWS stops accepting these credentials.
    public let expiration: Date

    /// Credentials from their parts, unchecked (for tests and for the enclave's side of the hand-over).
    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String, expiration: Date) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
    }

    /// Whether these credentials are still good at `now`.
    public func isValid(at now: Date) -> Bool { now < expiration }

    public var description: String { "InstanceCredentials(\(accessKeyID), expires \(expiration.formatted(.iso8601)))" }
}

extension InstanceCredentials {
    /// Most bytes of a credentials document; real ones are under 2 KiB.
    public static let maxDocumentBytes = 16 * 1024
    /// Most bytes of the session token field; AWS documents no bound, observed tokens are 1–2 KiB.
    static let maxSessionTokenBytes = 8 * 1024
    /// Most bytes of the key id, the secret key and the expiration.
    static let maxShortFieldBytes = 256

    private struct Document: Decodable {
        var Code: String?
        var AccessKeyId: String?
        var SecretAccessKey: String?
        var Token: String?
        var Expiration: String?
    }

    /// Parses the body of `GET /latest/meta-data/iam/security-credentials/ROLE`, refusing anything that is not a
    /// successful, complete, unexpired document. `now` is when the answer was received.
    public static func parse(_ body: [UInt8], now: Date) throws(InstanceCredentialsError) -> InstanceCredentials {
        guard body.count <= maxDocumentBytes else {
            throw .init(.bodyTooLarge, "credentials document of \(body.count) bytes (at most \(maxDocumentBytes))")
        }
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: Data(body))
        } catch {
            throw .init(.malformedJSON, "the credentials document is not the expected JSON object", underlying: error)
        }
        let code = try required(document.Code, "Code", max: maxShortFieldBytes)
        guard code == "Success" else { throw .init(.notSuccess, "Code is \(code.debugDescription)") }
        let keyID = try required(document.AccessKeyId, "AccessKeyId", max: maxShortFieldBytes)
        let secret = try required(document.SecretAccessKey, "SecretAccessKey", max: maxShortFieldBytes)
        let token = try required(document.Token, "Token", max: maxSessionTokenBytes)
        let expirationText = try required(document.Expiration, "Expiration", max: maxShortFieldBytes)
        guard expirationText.hasSuffix("Z"), let expiration = try? Date(expirationText, strategy: .iso8601) else {
            throw .init(.malformedExpiration, "Expiration \(expirationText.debugDescription) is not ISO 8601 in UTC")
        }
        guard now < expiration else {
            throw .init(.expired, "the credentials expired at \(expirationText), before they were received")
        }
        return InstanceCredentials(
            accessKeyID: keyID,
            secretAccessKey: secret,
            sessionToken: token,
            expiration: expiration
        )
    }

    /// A present, non-empty field of printable ASCII no longer than `max` bytes.
    private static func required(_ value: String?, _ name: String, max: Int) throws(InstanceCredentialsError) -> String
    {
        guard let value, !value.isEmpty else { throw .init(.missingField, "\(name) is missing or empty") }
        guard value.utf8.count <= max else { throw .init(.malformedField, "\(name) is longer than \(max) bytes") }
        guard value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .init(.malformedField, "\(name) holds characters other than printable ASCII")
        }
        return value
    }
}
