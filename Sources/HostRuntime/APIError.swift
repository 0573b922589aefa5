/// An error the API answers with: an HTTP status and a stable code, as JSON
/// `{"error": {"code": "...", "message": "..."}}`. Codes are listed in `docs/api.md`. Equality compares status and code.
public struct APIError: Error, Sendable, Hashable, CustomStringConvertible {
    public let status: Int
    public let code: String
    public let message: String
    /// Whole seconds after which the same request may succeed, sent as `Retry-After` (429 and some 503 answers).
    public let retryAfter: Int?

    public init(_ status: Int, _ code: String, _ message: String, retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    public var description: String { "\(status) \(code): \(message)" }

    /// Equality is on the status and the code (the message is for people).
    public static func == (a: APIError, b: APIError) -> Bool { a.status == b.status && a.code == b.code }
    public func hash(into h: inout Hasher) {
        h.combine(status)
        h.combine(code)
    }

    static func unauthorized() -> APIError { APIError(401, "unauthorized", "a valid bearer token is required") }
    static func storage(_ error: any Error) -> APIError { APIError(503, "storageUnavailable", "the host could not write to its database") }
}
