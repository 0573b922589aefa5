/// An HTTP answer as the transport received it.
public struct KMSHTTPResponse: Sendable {
    /// The status code.
    public var status: Int
    /// The headers as received.
    public var headers: [(name: String, value: String)]
    /// The whole body.
    public var body: [UInt8]

    /// An answer with the given parts.
    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The value of the first header named `name` (compared case-insensitively).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}
