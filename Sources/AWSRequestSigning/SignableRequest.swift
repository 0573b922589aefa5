/// The parts of an HTTP request that Signature Version 4 covers. Nothing is checked until it is signed
/// (`SigV4Signer.sign` throws the rule a part breaks).
public struct SignableRequest: Sendable, Hashable {
    /// One header as the caller will send it; names are compared case-insensitively.
    public struct Header: Sendable, Hashable {
        public var name: String
        public var value: String
        /// A header named `name` with `value`.
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    /// One query parameter, not percent-encoded (the signer encodes it).
    public struct QueryItem: Sendable, Hashable {
        public var name: String
        public var value: String
        /// A parameter named `name` with `value` (empty for `?name`).
        public init(_ name: String, _ value: String = "") {
            self.name = name
            self.value = value
        }
    }

    /// The method, upper case (`POST`).
    public var method: String
    /// The path as sent, starting with `/`; for the canonical request, dot segments and empty segments are
    /// removed and each segment is percent-encoded once more (the rule for services other than S3).
    public var path: String
    /// The query parameters, in any order.
    public var query: [QueryItem]
    /// The headers, including `Host`, in any order; a name may repeat.
    public var headers: [Header]
    /// The body bytes (empty for none).
    public var body: [UInt8]

    /// A request with the given parts.
    public init(method: String, path: String = "/", query: [QueryItem] = [], headers: [Header], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }
}
