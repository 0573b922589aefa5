import CloisterTestSupport
import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// A local stand-in for the EC2 instance metadata service's IMDSv2 credential paths, on a free loopback port.
struct IMDSStandIn: Sendable {
    /// What `GET …/security-credentials/ROLE` answers.
    enum Answer: Sendable {
        /// A successful document whose `Expiration` is `lifetime` seconds ahead, with `edits` applied (`nil` removes).
        case document(edits: [String: String?] = [:])
        /// This body, verbatim.
        case raw(String)
        /// This status with an empty body.
        case status(Int)
        /// Nothing, for longer than any client waits.
        case stall
    }

    struct State {
        var tokens: Set<String> = []
        var tokenPuts = 0
        var tokenTTLs: [String] = []
        var issued = 0
        var answer = Answer.document()
        var lifetime: TimeInterval = 3600
        var acceptTokens = true
        /// When set, what `PUT /latest/api/token` answers instead of a token.
        var tokenBody: String?
    }

    static let role = "cloister-host"
    private let box: StateBox
    let server: LoopbackHTTPServer
    var port: Int { server.url.port! }

    private init(box: StateBox, server: LoopbackHTTPServer) {
        self.box = box
        self.server = server
    }

    /// Reads or changes what the stand-in does next.
    func with<T: Sendable>(_ body: (inout State) -> T) -> T { box.state.withLock { body(&$0) } }

    static func start() async throws -> IMDSStandIn {
        let box = StateBox()
        let router = Router()
        router.put("/latest/api/token") { request, _ -> Response in
            guard let ttl = header(request, "x-aws-ec2-metadata-token-ttl-seconds"),
                let seconds = Int(ttl), (1...21_600).contains(seconds)
            else { return text("", status: 400) }
            let token = UUID().uuidString
            if let body = box.state.withLock({ $0.tokenBody }) { return text(body) }
            box.state.withLock {
                $0.tokens.insert(token)
                $0.tokenPuts += 1
                $0.tokenTTLs.append(ttl)
            }
            return text(token)
        }
        router.get("/latest/meta-data/iam/security-credentials/") { request, _ -> Response in
            guard box.authorized(request) else { return text("", status: 401) }
            return text(role + "\n")
        }
        router.get("/latest/meta-data/iam/security-credentials/:role") { request, context -> Response in
            guard box.authorized(request) else { return text("", status: 401) }
            guard context.parameters.get("role") == role else { return text("", status: 404) }
            let (answer, lifetime, serial) = box.state.withLock { s in
                s.issued += 1
                return (s.answer, s.lifetime, s.issued)
            }
            switch answer {
            case .raw(let body): return text(body)
            case .status(let code): return text("", status: code)
            case .stall:
                try await Task.sleep(for: .seconds(30))
                return text("")
            case .document(let edits):
                var fields: [String: String] = [
                    "Code": "Success", "LastUpdated": Date().formatted(.iso8601), "Type": "AWS-HMAC",
                    "AccessKeyId": "ASIASTANDIN\(serial)", "SecretAccessKey": "secret-\(serial)",
                    "Token": "token-\(serial)",
                    "Expiration": Date().addingTimeInterval(lifetime).formatted(.iso8601),
                ]
                for (name, value) in edits { fields[name] = value }
                return text(String(decoding: try JSONEncoder().encode(fields), as: UTF8.self))
            }
        }
        let server = try await LoopbackHTTPServer.start(router)
        return IMDSStandIn(box: box, server: server)
    }

    func stop() { server.stop() }

    private static func header(_ request: Request, _ name: String) -> String? {
        request.headers.first { $0.name.canonicalName == name }?.value
    }

    private static func text(_ body: String, status: Int = 200) -> Response {
        Response(status: .init(code: status), body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    private final class StateBox: Sendable {
        let state = Mutex(State())

        func authorized(_ request: Request) -> Bool {
            guard let token = IMDSStandIn.header(request, "x-aws-ec2-metadata-token") else { return false }
            return state.withLock { $0.acceptTokens && $0.tokens.contains(token) }
        }
    }
}
