import AWSRequestSigning
import Foundation
import NitroAttestation
import Testing

/// One case of the AWS SigV4 test suite as aws-c-auth ships it (tests/aws-signing-test-suite/v4, Apache-2.0;
/// see Vectors/README.md): the request, the signing context and the expected canonical request, string to sign
/// and signature.
struct SigV4Vector: Sendable, CustomTestStringConvertible {
    struct Context: Decodable, Sendable {
        struct Credentials: Decodable, Sendable {
            let access_key_id: String
            let secret_access_key: String
            let token: String?
        }
        let credentials: Credentials
        let region: String
        let service: String
        let timestamp: String
        let normalize: Bool
        let sign_body: Bool
        let omit_session_token: Bool?
    }

    let name: String
    let context: Context
    /// request.txt as read.
    let requestText: String
    let canonicalRequest: String
    let stringToSign: String
    let signature: String

    var testDescription: String { name }

    /// Why this signer does not sign the case, or nil when it does.
    var unsupported: String? {
        if !context.normalize {
            return "unnormalised paths are S3's rule; this signer is for other services and always normalises"
        }
        if context.omit_session_token == true {
            return "the token is added after signing, unsigned; this signer always signs it"
        }
        if requestText.contains("\n ") {
            return "obsolete line folding in a header value; this signer refuses control characters"
        }
        return nil
    }

    static func load() throws -> [SigV4Vector] {
        guard let root = Bundle.module.url(forResource: "Vectors", withExtension: nil) else {
            throw CocoaError(.fileNoSuchFile)
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: root.path).filter { !$0.hasSuffix(".md") }
            .sorted()
        return try names.map { name in
            let directory = root.appendingPathComponent(name)
            func text(_ file: String) throws -> String {
                try String(decoding: Data(contentsOf: directory.appendingPathComponent(file)), as: UTF8.self)
            }
            return SigV4Vector(
                name: name,
                context: try JSONDecoder().decode(Context.self, from: Data(text("context.json").utf8)),
                requestText: try text("request.txt"),
                canonicalRequest: try text("header-canonical-request.txt"),
                stringToSign: try text("header-string-to-sign.txt"),
                signature: try text("header-signature.txt")
            )
        }
    }

    static func supported() throws -> [SigV4Vector] { try load().filter { $0.unsupported == nil } }

    /// The time in seconds since 1970.
    var secondsSince1970: Int64 { Timestamp.parse(context.timestamp)! / 1000 }

    /// request.txt: `METHOD target HTTP/1.1`, `Name:value` lines, a blank line, the body. The target's query
    /// is percent-decoded into items (the signer encodes them again).
    func request() -> SignableRequest {
        let (head, body) =
            requestText.range(of: "\n\n").map {
                (String(requestText[..<$0.lowerBound]), Array(requestText[$0.upperBound...].utf8))
            } ?? (requestText, [])
        var lines = head.split(separator: "\n", omittingEmptySubsequences: false)
        let requestLine = lines.removeFirst()
        let method = String(requestLine.prefix { $0 != " " })
        let target = requestLine.dropFirst(method.count + 1).dropLast(" HTTP/1.1".count)
        let path = String(target.prefix { $0 != "?" })
        let query = target.dropFirst(path.count + 1).split(separator: "&").map { pair in
            let name = pair.prefix { $0 != "=" }
            return SignableRequest.QueryItem(
                Self.percentDecoded(name),
                Self.percentDecoded(pair.dropFirst(name.count + 1))
            )
        }
        let headers = lines.filter { !$0.isEmpty }.map { line in
            let name = line.prefix { $0 != ":" }
            return SignableRequest.Header(String(name), String(line.dropFirst(name.count + 1)))
        }
        return SignableRequest(method: method, path: path, query: query, headers: headers, body: body)
    }

    static func percentDecoded(_ text: Substring) -> String {
        var out: [UInt8] = []
        var bytes = Array(text.utf8)[...]
        while let c = bytes.popFirst() {
            if c == UInt8(ascii: "%"), bytes.count >= 2,
                let byte = Hex.decode(String(decoding: bytes.prefix(2), as: UTF8.self))
            {
                out += byte
                bytes = bytes.dropFirst(2)
            } else {
                out.append(c)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
