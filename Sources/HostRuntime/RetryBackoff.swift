/// Waits between tries that double from `initial` after each failure, never longer than `maximum`.
public struct RetryBackoff: Sendable, Equatable {
    /// The wait after the first failure.
    public var initial: Duration
    /// The longest wait.
    public var maximum: Duration

    /// Doubling waits from `initial`, capped at `maximum`.
    public init(initial: Duration, maximum: Duration) {
        self.initial = initial
        self.maximum = maximum
    }

    /// Whether the waits make sense: `0 <= initial <= maximum`.
    public var isValid: Bool { initial >= .zero && maximum >= initial }

    /// The wait after the `failures`-th consecutive failure (1-based).
    public func delay(afterFailures failures: Int) -> Duration {
        var wait = initial
        for _ in 1..<max(failures, 1) {
            wait = wait * 2
            if wait >= maximum { return maximum }
        }
        return min(wait, maximum)
    }
}
