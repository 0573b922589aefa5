/// Carries one HTTP request to KMS and brings back its answer: TLS, the connection and its bounds are the
/// transport's. An error it throws is reported as `transport` (and retried) unless it is already a `KMSError`.
public protocol KMSTransport: Sendable {
    /// Sends `request` and returns the whole answer.
    func exchange(_ request: KMSHTTPRequest) async throws -> KMSHTTPResponse
}
