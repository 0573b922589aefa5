/// Where and how the host asks the instance metadata service (IMDSv2) for the instance role's credentials.
public struct InstanceMetadataConfiguration: Sendable, Equatable {
    /// The metadata service's documented address.
    public static let defaultHost = "169.254.169.254"

    /// The metadata service's address (a loopback stand-in in tests). Default `169.254.169.254`.
    public var host: String = Self.defaultHost
    /// Its port. Default 80.
    public var port: Int = 80
    /// The session token's lifetime asked for, in seconds (1 to 21600). Default 21600, the most IMDSv2 grants.
    public var tokenTTLSeconds: Int = 21_600
    /// How long one request may take, connection included. Default 2 s.
    public var requestTimeout: Duration = .seconds(2)
    /// How many times one step is tried before its error is returned (at least 1). Default 3.
    public var attempts: Int = 3
    /// The waits between tries of one step. Default 200 ms doubling to at most 2 s.
    public var backoff = RetryBackoff(initial: .milliseconds(200), maximum: .seconds(2))
    /// Most bytes of any answer's body. Default 16 KiB.
    public var maxBodyBytes: Int = InstanceCredentials.maxDocumentBytes

    /// The defaults.
    public init() {}

    /// Refuses values the client cannot work with.
    public func validate() throws(InstanceCredentialsError) {
        func refuse(_ detail: String) -> InstanceCredentialsError { .init(.invalidConfiguration, detail) }
        guard !host.isEmpty else { throw refuse("host is empty") }
        guard (1...65_535).contains(port) else { throw refuse("port \(port) is out of range") }
        guard (1...21_600).contains(tokenTTLSeconds) else { throw refuse("tokenTTLSeconds must be 1 to 21600") }
        guard requestTimeout > .zero else { throw refuse("requestTimeout must be positive") }
        guard attempts >= 1 else { throw refuse("attempts must be at least 1") }
        guard backoff.isValid else { throw refuse("backoff must satisfy 0 <= initial <= maximum") }
        guard maxBodyBytes > 0 else { throw refuse("maxBodyBytes must be positive") }
    }
}
