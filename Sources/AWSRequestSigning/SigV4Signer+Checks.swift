/// The request rules of docs/sigv4.md, checked before anything is canonicalised.
extension SigV4Signer {
    static let maxPath = 2048
    static let maxQueryItems = 100
    static let maxQueryPart = 2048
    static let maxHeaders = 100
    static let maxHeaderName = 256
    static let maxHeaderValue = 8192
    /// Headers the signer writes itself: a caller's copy would be signed twice or contradict it.
    static let reservedHeaders: Set<String> = [
        "authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256",
    ]

    static func check(_ request: SignableRequest) throws(AWSSigningError) {
        let method = Array(request.method.utf8)
        guard (1...20).contains(method.count), method.allSatisfy({ (0x41...0x5A).contains($0) }) else {
            throw AWSSigningError(.invalidMethod, "\(method.count) bytes; 1...20 upper-case ASCII letters accepted")
        }

        let path = Array(request.path.utf8)
        guard path.first == UInt8(ascii: "/"), path.count <= maxPath,
            !path.contains(where: { isControl($0) || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") })
        else {
            throw AWSSigningError(
                .invalidPath,
                "\(path.count) bytes; must start with /, at most \(maxPath), no controls, ? or #"
            )
        }

        guard request.query.count <= maxQueryItems else {
            throw AWSSigningError(.tooManyQueryItems, "\(request.query.count) items; at most \(maxQueryItems)")
        }
        for (i, item) in request.query.enumerated() {
            for part in [item.name, item.value]
            where part.utf8.count > maxQueryPart || part.utf8.contains(where: isControl) {
                throw AWSSigningError(
                    .invalidQueryItem,
                    "query[\(i)]: over \(maxQueryPart) bytes or a control character"
                )
            }
        }

        guard request.headers.count <= maxHeaders else {
            throw AWSSigningError(.tooManyHeaders, "\(request.headers.count) headers; at most \(maxHeaders)")
        }
        var hosts = 0
        for (i, header) in request.headers.enumerated() {
            let name = Array(header.name.utf8)
            guard (1...maxHeaderName).contains(name.count), name.allSatisfy(isTokenCharacter) else {
                throw AWSSigningError(.invalidHeaderName, "headers[\(i)]: not 1...\(maxHeaderName) token characters")
            }
            let value = Array(header.value.utf8)
            guard value.count <= maxHeaderValue, value.allSatisfy({ (0x20...0x7E).contains($0) }) else {
                throw AWSSigningError(
                    .invalidHeaderValue,
                    "headers[\(i)] (\(header.name)): over \(maxHeaderValue) bytes, a control or non-ASCII byte"
                )
            }
            let lower = header.name.lowercased()
            guard !reservedHeaders.contains(lower) else {
                throw AWSSigningError(.reservedHeader, "headers[\(i)]: \(header.name) is written by the signer")
            }
            if lower == "host" {
                hosts += 1
                guard !CanonicalRequest.normalise(header.value).isEmpty else {
                    throw AWSSigningError(.invalidHost, "an empty Host")
                }
            }
        }
        guard hosts == 1 else { throw AWSSigningError(.invalidHost, "\(hosts) Host headers; exactly one is signed") }
    }

    static func isControl(_ c: UInt8) -> Bool { c < 0x20 || c == 0x7F }

    /// RFC 9110 `tchar`: `!#$%&'*+-.^_`|~`, digits and letters.
    static func isTokenCharacter(_ c: UInt8) -> Bool {
        AWSCredentials.isAlphanumeric(c) || Array("!#$%&'*+-.^_`|~".utf8).contains(c)
    }
}
