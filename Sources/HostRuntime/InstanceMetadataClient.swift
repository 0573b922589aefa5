import Foundation
import NIOCore
import NIOPosix

/// Fetches the instance role's credentials from IMDSv2: a session token (`PUT /latest/api/token`), the role's
/// name, then the role's credentials, each answer checked strictly.
///
/// The token is kept and reused until shortly before its lifetime ends; an answer of 401 (the service forgot or
/// expired it) makes the client fetch a new token once and repeat the request. Transport failures, timeouts and
/// unexpected statuses are tried again with doubling waits; malformed answers are not, because asking again
/// would not make them well formed.
public actor InstanceMetadataClient: InstanceCredentialsSource {
    static let tokenPath = "/latest/api/token"
    static let credentialsPath = "/latest/meta-data/iam/security-credentials/"
    static let maxTokenBytes = 4096

    /// What the client was built with (validated).
    public nonisolated let configuration: InstanceMetadataConfiguration
    private let exchange: MetadataHTTPExchange
    private let now: @Sendable () -> Date
    private var token: (value: String, renewAfter: Date)?
    /// How many session tokens have been fetched so far.
    public private(set) var tokensFetched = 0

    /// A client for `configuration`, doing I/O on `group`, reading the time from `now`.
    public init(
        configuration: InstanceMetadataConfiguration = .init(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        now: @escaping @Sendable () -> Date = Date.init
    ) throws(InstanceCredentialsError) {
        try configuration.validate()
        self.configuration = configuration
        self.exchange = MetadataHTTPExchange(configuration: configuration, group: group)
        self.now = now
    }

    /// The role's current credentials, unexpired at the time they were received.
    public func credentials() async throws(InstanceCredentialsError) -> InstanceCredentials {
        let role = try Self.roleName(try await get(Self.credentialsPath))
        let body = try await get(Self.credentialsPath + role)
        return try InstanceCredentials.parse(body, now: now())
    }

    /// The first line of the role listing, if it is an IAM role name (1–64 of `A-Za-z0-9+=,.@_-`).
    static func roleName(_ listing: [UInt8]) throws(InstanceCredentialsError) -> String {
        let first = listing.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).first ?? []
        let line = first.last == UInt8(ascii: "\r") ? first.dropLast() : first[...]
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+=,.@_-".utf8)
        guard (1...64).contains(line.count), line.allSatisfy(allowed.contains) else {
            throw .init(
                .malformedRoleName,
                "the role listing's first line is not an IAM role name (\(line.count) bytes)"
            )
        }
        return String(decoding: line, as: UTF8.self)
    }

    private func get(_ path: String) async throws(InstanceCredentialsError) -> [UInt8] {
        try await retrying { () async throws(InstanceCredentialsError) -> [UInt8] in
            var response = try await authorizedGET(path)
            if response.status == 401 {
                token = nil
                response = try await authorizedGET(path)
                guard response.status != 401 else {
                    throw .init(.tokenRejected, "GET \(path): a fresh token was refused")
                }
            }
            guard response.status == 200 else {
                throw .init(.unexpectedStatus, "GET \(path) answered \(response.status)")
            }
            return response.body
        }
    }

    private func authorizedGET(_ path: String) async throws(InstanceCredentialsError) -> MetadataHTTPExchange.Response {
        try await exchange.send(.GET, path, headers: [("X-aws-ec2-metadata-token", try await sessionToken())])
    }

    /// The kept token, or a new one when there is none or it is near the end of its lifetime.
    private func sessionToken() async throws(InstanceCredentialsError) -> String {
        let asked = now()
        if let token, asked < token.renewAfter { return token.value }
        let ttl = configuration.tokenTTLSeconds
        let response = try await exchange.send(
            .PUT,
            Self.tokenPath,
            headers: [("X-aws-ec2-metadata-token-ttl-seconds", String(ttl))]
        )
        guard response.status == 200 else {
            throw .init(.unexpectedStatus, "PUT \(Self.tokenPath) answered \(response.status)")
        }
        guard (1...Self.maxTokenBytes).contains(response.body.count),
            response.body.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else {
            throw .init(
                .malformedToken,
                "the session token (\(response.body.count) bytes) is not 1–\(Self.maxTokenBytes) printable ASCII bytes"
            )
        }
        let value = String(decoding: response.body, as: UTF8.self)
        // Renew a little early so a token never lapses between being read here and arriving at the service.
        let margin = min(60, Double(ttl) / 10)
        token = (value, asked.addingTimeInterval(Double(ttl) - margin))
        tokensFetched += 1
        return value
    }

    private func retrying<T>(
        _ step: () async throws(InstanceCredentialsError) -> T
    ) async throws(InstanceCredentialsError) -> T {
        var failures = 0
        while true {
            do {
                return try await step()
            } catch {
                failures += 1
                guard Self.retryable.contains(error.code), failures < configuration.attempts, !Task.isCancelled else {
                    throw error
                }
                try? await Task.sleep(for: configuration.backoff.delay(afterFailures: failures))
            }
        }
    }

    private static let retryable: Set<InstanceCredentialsErrorCode> = [.unreachable, .timedOut, .unexpectedStatus]
}
