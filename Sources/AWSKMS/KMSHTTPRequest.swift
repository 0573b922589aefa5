/// An HTTP request as the client sends it: the transport writes these parts and nothing else but framing
/// (`Content-Length`).
public struct KMSHTTPRequest: Sendable {
    /// `POST`.
    public var method: String
    /// `/`.
    public var path: String
    /// The headers in the order they are sent, signed ones included.
    public var headers: [(name: String, value: String)]
    /// The JSON body.
    public var body: [UInt8]

    /// A request with the given parts.
    public init(method: String, path: String, headers: [(name: String, value: String)], body: [UInt8]) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
    }

    /// The value of the first header named `name` (compared case-insensitively).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}
