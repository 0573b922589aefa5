/// Remembers what host names resolved to, for as long as their TTL allows, so that a caller can ask before every
/// connection and still follow address changes when a TTL ends.
///
/// - An answer is reused while `now()` is before its expiry: the answer's TTL clamped to `[minTTL, maxTTL]` and
///   counted from when the answer arrived. From the expiry on, the next call resolves again.
/// - Callers asking for a host whose resolution is under way wait for that one resolution; there is never more
///   than one at a time per host.
/// - A failure (a thrown error, or an answer without addresses) is remembered for `minTTL` only, so that a
///   failing name is not asked again on every call but recovers soon.
///
/// Names are compared ignoring ASCII case and a trailing dot.
public actor ResolutionCache {
    /// The shortest time an answer is kept unless told otherwise: long enough to spare the resolver a burst of
    /// connections to a name with TTL 0.
    public static let defaultMinTTL: Duration = .seconds(5)
    /// The longest time an answer is kept unless told otherwise, however large its TTL.
    public static let defaultMaxTTL: Duration = .seconds(3600)
    /// Past this many entries, expired ones are dropped when a new resolution starts.
    static let pruneThreshold = 256

    private enum Entry {
        case ready(Result<[DNSAddress], any Error>, expiresAt: UInt64)
        case resolving(Task<Result<[DNSAddress], any Error>, Never>)
    }

    private let resolver: any HostResolver
    private let now: @Sendable () -> UInt64
    private let minTTL: UInt64
    private let maxTTL: UInt64
    private var entries: [String: Entry] = [:]

    /// Makes a cache in front of `resolver`. `now` gives milliseconds on a clock that never goes back (by default
    /// a monotonic clock); answers are kept between `minTTL` and `maxTTL` (raised to `minTTL` if smaller).
    public init(
        resolver: some HostResolver,
        now: @escaping @Sendable () -> UInt64 = { ResolutionCache.monotonicMilliseconds() },
        minTTL: Duration = ResolutionCache.defaultMinTTL,
        maxTTL: Duration = ResolutionCache.defaultMaxTTL
    ) {
        self.resolver = resolver
        self.now = now
        self.minTTL = Self.milliseconds(minTTL)
        self.maxTTL = max(Self.milliseconds(maxTTL), self.minTTL)
    }

    /// The addresses of `host`, from the cache while its answer is fresh, otherwise from the resolver.
    ///
    /// Throws what the resolver threw, `DNSError` `.nameError` when the name does not exist, or `.noAddresses` when
    /// it has no A or AAAA records.
    public func addresses(for host: String) async throws -> [DNSAddress] {
        let key = Self.key(host)
        switch entries[key] {
        case .ready(let result, let expiresAt) where now() < expiresAt:
            return try result.get()
        case .resolving(let task):
            return try await task.value.get()
        case .ready, nil:
            break
        }
        if entries.count >= Self.pruneThreshold { prune() }
        let task = Task { await self.resolveAndStore(host, key: key) }
        entries[key] = .resolving(task)
        return try await task.value.get()
    }

    /// Runs in a task of its own, so a caller that gives up does not leave the entry stuck in `.resolving`.
    private func resolveAndStore(_ host: String, key: String) async -> Result<[DNSAddress], any Error> {
        let result: Result<[DNSAddress], any Error>
        var keep = minTTL
        do {
            let answer = try await resolver.resolve(host)
            if !answer.addresses.isEmpty {
                result = .success(answer.addresses)
                keep = min(max(UInt64(answer.ttl) * 1000, minTTL), maxTTL)
            } else if answer.rcode == .nameError {
                result = .failure(DNSError(.nameError, "\(host) does not exist (NXDOMAIN)"))
            } else {
                result = .failure(DNSError(.noAddresses, "\(host) has no A or AAAA records"))
            }
        } catch {
            result = .failure(error)
        }
        let (expiresAt, overflow) = now().addingReportingOverflow(keep)
        entries[key] = .ready(result, expiresAt: overflow ? .max : expiresAt)
        return result
    }

    private func prune() {
        let time = now()
        entries = entries.filter { _, entry in
            if case .ready(_, let expiresAt) = entry { return time < expiresAt }
            return true
        }
    }

    private static let epoch = ContinuousClock.now

    /// Milliseconds since this module first asked, on a clock that keeps counting while the system sleeps and is
    /// not moved by wall-clock changes.
    public static func monotonicMilliseconds() -> UInt64 {
        milliseconds(epoch.duration(to: .now))
    }

    private static func milliseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1000)
        let (total, carry) = whole.addingReportingOverflow(UInt64(attoseconds / 1_000_000_000_000_000))
        return overflow || carry ? .max : total
    }

    private static func key(_ host: String) -> String {
        var bytes = Array(host.utf8)
        if bytes.last == UInt8(ascii: ".") { bytes.removeLast() }
        for index in bytes.indices where (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(bytes[index]) {
            bytes[index] |= 0x20
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
