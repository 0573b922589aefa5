/// How often a call is tried and how long the client waits between tries. A call is tried again only after a
/// failure that may pass: a 5xx answer, `throttled`, `kmsInternal`, `dependencyTimeout` or `transport`; never
/// after another 4xx, a malformed or oversized answer, or a request the client refused.
public struct KMSRetryPolicy: Sendable, Hashable {
    /// Tries in all, the first included (1...10).
    public var maxAttempts: Int
    /// The wait before the second try; each later wait doubles it.
    public var baseDelay: Duration
    /// The longest wait.
    public var maxDelay: Duration

    /// A policy of `maxAttempts` tries (clamped to 1...10) with waits from `baseDelay` doubling up to `maxDelay`.
    public init(maxAttempts: Int = 4, baseDelay: Duration = .milliseconds(200), maxDelay: Duration = .seconds(5)) {
        self.maxAttempts = min(max(maxAttempts, 1), 10)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// Try once, never again.
    public static let none = KMSRetryPolicy(maxAttempts: 1)

    /// The wait after failed try number `attempt` (1 for the first): `baseDelay * 2^(attempt-1)`, at most `maxDelay`.
    public func delay(afterAttempt attempt: Int) -> Duration {
        let doubled = baseDelay * (1 << min(max(attempt - 1, 0), 20))
        return min(doubled, maxDelay)
    }

    /// Whether a failure with `code` (and, for an error answer, its HTTP `status`) may pass on another try.
    public static func isRetryable(_ code: KMSErrorCode, status: Int?) -> Bool {
        if let status, (500...599).contains(status) { return true }
        switch code {
        // Credentials the host has not fetched yet (at boot) or is refreshing come a moment later.
        case .throttled, .kmsInternal, .dependencyTimeout, .transport, .credentialsUnavailable: return true
        default: return false
        }
    }
}
