import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Keeps the instance role's credentials current for the enclave: fetches them, refreshes them well before they
/// expire, and keeps trying with doubling waits when the source fails, saying why.
///
/// `current` never returns credentials past their expiration, so a failure to refresh shows as `nil` and a
/// `failureReason` rather than as credentials AWS will refuse.
public final class InstanceCredentialsRefresher: Service, Sendable {
    /// When to refresh and how to wait after failures.
    public struct Configuration: Sendable, Equatable {
        /// Refresh once this share of the remaining lifetime has passed… Default 0.8.
        public var refreshFraction: Double = 0.8
        /// …or this long before expiry, whichever is earlier (but never before half the lifetime). Default 5 min.
        public var refreshLead: Duration = .seconds(300)
        /// The shortest wait between two successful fetches. Default 1 s.
        public var minimumInterval: Duration = .seconds(1)
        /// The waits after consecutive failures. Default 1 s doubling to at most 60 s.
        public var retry = RetryBackoff(initial: .seconds(1), maximum: .seconds(60))

        /// The defaults.
        public init() {}

        /// Refuses values the refresher cannot work with.
        public func validate() throws(InstanceCredentialsError) {
            guard refreshFraction > 0, refreshFraction < 1 else {
                throw .init(.invalidConfiguration, "refreshFraction must be between 0 and 1")
            }
            guard refreshLead >= .zero, minimumInterval > .zero, retry.isValid else {
                throw .init(.invalidConfiguration, "refreshLead, minimumInterval and retry must be non-negative")
            }
        }

        /// How long to wait before refreshing credentials with `remaining` seconds of life left.
        public func refreshDelay(remaining: Double) -> Duration {
            let lead = Double(refreshLead.components.seconds) + Double(refreshLead.components.attoseconds) * 1e-18
            let early = min(remaining * refreshFraction, remaining - lead)
            let seconds = max(early, remaining / 2)
            return max(.milliseconds(Int64(max(seconds, 0) * 1000)), minimumInterval)
        }
    }

    private struct State {
        var credentials: InstanceCredentials?
        var failure: String?
        var subscribers: [Int: AsyncStream<InstanceCredentials>.Continuation] = [:]
        var nextSubscriber = 0
        var finished = false
    }

    private let source: any InstanceCredentialsSource
    private let configuration: Configuration
    private let now: @Sendable () -> Date
    private let logger: Logger
    private let state = Mutex(State())

    /// A refresher over `source`, reading the time from `now`.
    public init(
        source: any InstanceCredentialsSource,
        configuration: Configuration = .init(),
        logger: Logger,
        now: @escaping @Sendable () -> Date = Date.init
    ) throws(InstanceCredentialsError) {
        try configuration.validate()
        self.source = source
        self.configuration = configuration
        self.logger = logger
        self.now = now
    }

    /// The credentials in hand, or `nil` when there are none yet or they have expired.
    public var current: InstanceCredentials? {
        let now = now()
        return state.withLock { $0.credentials }.flatMap { $0.isValid(at: now) ? $0 : nil }
    }

    /// Why the credentials are not healthy (for `/healthz`), or `nil` when the last fetch succeeded and they are
    /// unexpired.
    public var failureReason: String? {
        let now = now()
        return state.withLock { s -> String? in
            if let failure = s.failure { return "instance credentials: \(failure)" }
            guard let credentials = s.credentials else { return "instance credentials: not fetched yet" }
            guard credentials.isValid(at: now) else {
                return "instance credentials: expired at \(credentials.expiration.formatted(.iso8601))"
            }
            return nil
        }
    }

    /// Every new set of credentials from now on, starting with the current one if there is one; the stream
    /// finishes when the refresher stops.
    public func updates() -> AsyncStream<InstanceCredentials> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: InstanceCredentials.self,
            bufferingPolicy: .bufferingNewest(1)
        )
        let current = current
        let id = state.withLock { s -> Int? in
            guard !s.finished else { return nil }
            if let current { continuation.yield(current) }
            s.nextSubscriber += 1
            s.subscribers[s.nextSubscriber] = continuation
            return s.nextSubscriber
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Fetches and refreshes until cancelled or the group shuts down gracefully.
    public func run() async throws {
        try await cancelWhenGracefulShutdown { await self.refreshLoop() }
        let subscribers = state.withLock { s in
            s.finished = true
            defer { s.subscribers = [:] }
            return Array(s.subscribers.values)
        }
        for subscriber in subscribers { subscriber.finish() }
    }

    private func refreshLoop() async {
        var failures = 0
        while !Task.isCancelled {
            let wait: Duration
            do {
                let fresh = try await source.credentials()
                failures = 0
                publish(fresh)
                wait = configuration.refreshDelay(remaining: fresh.expiration.timeIntervalSince(now()))
                logger.debug(
                    "instance credentials refreshed",
                    metadata: ["expiration": "\(fresh.expiration)", "next": "\(wait)"]
                )
            } catch {
                failures += 1
                wait = configuration.retry.delay(afterFailures: failures)
                state.withLock { $0.failure = "\(error) (\(failures) consecutive failures)" }
                logger.warning(
                    "instance credentials not refreshed",
                    metadata: ["error": "\(error)", "retry": "\(wait)"]
                )
            }
            do { try await Task.sleep(for: wait) } catch { return }
        }
    }

    private func publish(_ credentials: InstanceCredentials) {
        let subscribers = state.withLock { s in
            s.credentials = credentials
            s.failure = nil
            return Array(s.subscribers.values)
        }
        for subscriber in subscribers { subscriber.yield(credentials) }
    }
}
