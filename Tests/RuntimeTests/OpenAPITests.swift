import Foundation
import Testing

/// The host API's description, `docs/openapi.json`: it is what a live host serves at `GET /openapi.json`, and it
/// names every route the API server registers, with what a route can answer.
@Suite struct OpenAPITests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func checkedIn() throws -> Data { try Data(contentsOf: root.appendingPathComponent("docs/openapi.json")) }

    static func document() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: checkedIn()) as? [String: Any])
    }

    /// The described operations as "METHOD /path".
    static func operations(_ document: [String: Any]) -> Set<String> {
        let paths = document["paths"] as? [String: [String: Any]] ?? [:]
        return Set(paths.flatMap { path, item in item.keys.map { "\($0.uppercased()) \(path)" } })
    }

    /// The routes `APIServer` registers, read from its source (`router.get("/v1/call/:op")` is `GET /v1/call/{op}`).
    static func registeredRoutes() throws -> Set<String> {
        let source = try String(contentsOf: root.appendingPathComponent("Sources/HostRuntime/APIServer.swift"), encoding: .utf8)
        let pattern = try NSRegularExpression(pattern: #"router\.(get|post|put|patch|delete|head)\("([^"]+)"\)"#)
        let matches = pattern.matches(in: source, range: NSRange(source.startIndex..., in: source))
        return Set(
            matches.map { m in
                let method = String(source[Range(m.range(at: 1), in: source)!]).uppercased()
                let path = String(source[Range(m.range(at: 2), in: source)!]).split(separator: "/", omittingEmptySubsequences: false).map { part in
                    part.hasPrefix(":") ? "{\(part.dropFirst())}" : String(part)
                }
                return "\(method) \(path.joined(separator: "/"))"
            })
    }

    @Test func everyRegisteredRouteIsDescribedAndNothingElse() throws {
        let routes = try Self.registeredRoutes()
        #expect(routes.count >= 14)
        #expect(Self.operations(try Self.document()) == routes)
    }

    /// Each operation that needs a token declares 401 with the `unauthorized` code; each error answer is the API's
    /// error object; 503 and 504 are declared where the host gives them.
    @Test func errorAnswersAreDeclared() throws {
        let document = try Self.document()
        let paths = document["paths"] as! [String: [String: [String: Any]]]
        for (path, item) in paths {
            for (method, operation) in item {
                let responses = operation["responses"] as! [String: Any]
                let secured = !((operation["security"] as? [Any])?.isEmpty ?? true)
                #expect(!secured || responses["401"] != nil, "\(method) \(path) takes a token but declares no 401")
                for (status, _) in responses where status.hasPrefix("4") || status.hasPrefix("5") {
                    let text = String(decoding: try JSONSerialization.data(withJSONObject: responses[status]!, options: [.withoutEscapingSlashes]), as: UTF8.self)
                    #expect(text.contains("#/components/schemas/Error") || text.contains("#/components/responses/"), "\(method) \(path) \(status)")
                }
            }
        }
        let attestation = paths["/v1/attestation"]!["get"]!["responses"] as! [String: Any]
        #expect(Set(attestation.keys) == ["200", "400", "429", "502", "503", "504"])
        let consistency = paths["/v1/log/consistency"]!["get"]!["responses"] as! [String: Any]
        #expect(consistency["503"] != nil)
    }

    /// A live host serves the checked-in file byte for byte, without a token, as JSON.
    @Test func theHostServesTheCheckedInDocument() async throws {
        let f = try await APIFixture.start()
        let (status, body, headers) = try await f.http("GET", "openapi.json")
        #expect(status == 200)
        #expect((headers["Content-Type"] as? String)?.hasPrefix("application/json") == true)
        #expect(Data(body) == (try Self.checkedIn()), "the served document differs from docs/openapi.json")
    }
}
