/// A whole HTTP/1.1 response.
public struct HTTPSResponse: Sendable {
    /// The status code.
    public var status: Int
    /// The headers as received.
    public var headers: [(name: String, value: String)]
    /// The body, at most the bound the exchange was given.
    public var body: [UInt8]

    /// A response with the given parts.
    public init(status: Int, headers: [(name: String, value: String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}
