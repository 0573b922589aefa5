/// An error the API answers with: an HTTP status and a stable code, as JSON
/// `{"error": {"code": "...", "message": "..."}}`. Codes are listed in `docs/api.md`.
public struct APIError: Error, Sendable, Hashable, CustomStringConvertible {
    public let status: Int
    public let code: String
    public let message: String

    public init(_ status: Int, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public var description: String { "\(status) \(code): \(message)" }

    static func unauthorized() -> APIError { APIError(401, "unauthorized", "a valid bearer token is required") }
    static func storage(_ error: any Error) -> APIError { APIError(503, "storageUnavailable", "the host could not write to its database") }
}
