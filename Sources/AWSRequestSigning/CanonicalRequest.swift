/// Task 1 of Signature Version 4: the canonical form of a request that has passed `SigV4Signer`'s checks.
///
///     METHOD \n canonical URI \n canonical query \n canonical headers (each `name:value\n`) \n signed headers \n
///     hex SHA-256 of the body
struct CanonicalRequest: Sendable, Hashable {
    /// The text that is hashed into the string to sign.
    let text: String
    /// The lower-case header names, sorted and joined with `;`.
    let signedHeaders: String

    /// `headers` are checked; the ones the signer adds are among them.
    init(
        method: String,
        path: String,
        query: [SignableRequest.QueryItem],
        headers: [SignableRequest.Header],
        payloadHash: String
    ) {
        let pairs = query.map { (URIEncoding.encode($0.name), URIEncoding.encode($0.value)) }
        // Byte order of the encoded forms, name first then value (String's `<` is not byte order).
        let sortedPairs = pairs.sorted { a, b in
            a.0 == b.0 ? a.1.utf8.lexicographicallyPrecedes(b.1.utf8) : a.0.utf8.lexicographicallyPrecedes(b.0.utf8)
        }
        let canonicalQuery = sortedPairs.map { "\($0.0)=\($0.1)" }.joined(separator: "&")

        // Repeated names are one line whose values are joined with commas, in the order they were given.
        var names: [String] = []
        var values: [String: [String]] = [:]
        for header in headers {
            let name = header.name.lowercased()
            if values[name] == nil { names.append(name) }
            values[name, default: []].append(Self.normalise(header.value))
        }
        names.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let canonicalHeaders = names.map { "\($0):\(values[$0]!.joined(separator: ","))\n" }.joined()
        signedHeaders = names.joined(separator: ";")

        text = [method, URIEncoding.canonicalPath(path), canonicalQuery, canonicalHeaders, signedHeaders, payloadHash]
            .joined(separator: "\n")
    }

    /// `value` without leading or trailing spaces, each run of spaces inside it one space.
    static func normalise(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }
}
