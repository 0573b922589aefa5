import Synchronization

/// A token bucket per key: each key may take `burst` at once and `perMinute` in the long run. At most `maxKeys`
/// keys are kept; a bucket that has filled up again is forgotten, since a fresh one is the same. When the table
/// is full of buckets still refilling, a new key is refused until one fills up: a flood from many keys is refused
/// rather than allowed to grow the table without bound. Time is passed in (monotonic nanoseconds), never read here.
public final class TokenBuckets<Key: Hashable & Sendable>: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: UInt64
    }

    private struct Table {
        var buckets: [Key: Bucket] = [:]
        var lastPrune: UInt64 = 0
    }

    public let limit: RateLimit
    public let maxKeys: Int
    private let table = Mutex(Table())

    public init(limit: RateLimit, maxKeys: Int) {
        self.limit = limit
        self.maxKeys = max(1, maxKeys)
    }

    /// Takes one token from `key`'s bucket at time `now` (monotonic nanoseconds).
    public func take(_ key: Key, now: UInt64) -> RateDecision {
        table.withLock { t in
            if var b = t.buckets[key] {
                b.tokens = refilled(b, now: now)
                b.updated = max(b.updated, now)
                defer { t.buckets[key] = b }
                guard b.tokens >= 1 else { return .limited(retryAfterSeconds: wait(for: 1 - b.tokens)) }
                b.tokens -= 1
                return .allowed
            }
            if t.buckets.count >= maxKeys {
                // At most once a second, so that a full table costs a scan per second, not per request.
                if now &- t.lastPrune >= 1_000_000_000 || t.lastPrune == 0 {
                    t.lastPrune = now
                    t.buckets = t.buckets.filter { refilled($0.value, now: now) < Double(limit.burst) }
                }
                guard t.buckets.count < maxKeys else { return .limited(retryAfterSeconds: wait(for: 1)) }
            }
            t.buckets[key] = Bucket(tokens: Double(limit.burst - 1), updated: now)
            return .allowed
        }
    }

    /// How many keys are kept now.
    public var count: Int { table.withLock { $0.buckets.count } }

    private func refilled(_ b: Bucket, now: UInt64) -> Double {
        let elapsed = now > b.updated ? Double(now - b.updated) : 0
        return min(Double(limit.burst), b.tokens + elapsed * Double(limit.perMinute) / 60e9)
    }

    private func wait(for tokens: Double) -> Int {
        max(1, Int((tokens * 60 / Double(limit.perMinute)).rounded(.up)))
    }
}

/// The rate and the burst of a token bucket.
public struct RateLimit: Sendable, Hashable {
    public var perMinute: Int
    public var burst: Int

    public init(perMinute: Int, burst: Int) {
        self.perMinute = max(1, perMinute)
        self.burst = max(1, burst)
    }
}

/// What a token bucket decided.
public enum RateDecision: Sendable, Hashable {
    case allowed
    /// Refused; a token is there again in this many whole seconds (at least 1).
    case limited(retryAfterSeconds: Int)
}
