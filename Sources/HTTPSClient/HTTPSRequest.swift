/// An HTTP/1.1 request to send over TLS.
public struct HTTPSRequest: Sendable {
    /// The method (`POST`).
    public var method: String
    /// The request target (`/`).
    public var path: String
    /// The headers in order; `Host` (the server name) and `Content-Length` are added when absent.
    public var headers: [(name: String, value: String)]
    /// The body.
    public var body: [UInt8]

    /// A request with the given parts.
    public init(method: String, path: String, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
    }
}
