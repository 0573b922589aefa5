import CloisterTestSupport
import EnclaveWire
import Foundation
import Hummingbird
import Synchronization

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A host turned hostile: an HTTP proxy in front of a real host that forwards everything and tampers with what
/// comes back, the way a compromised parent instance could. Clients under test talk to it, never to a mock.
final class HostileProxy: Sendable {
    enum Tamper: Sendable {
        case none
        /// Flip one bit of every call's signed response at this offset from the end.
        case flipCallByte(fromEnd: Int)
        /// Answer every call with the first call's response.
        case replayCalls
        /// Answer every attestation request with the first document served.
        case staleAttestation
        /// Remove receipt log entry `index` (0-based, first page).
        case dropReceipt(Int)
        /// Swap two receipt log entries.
        case swapReceipts(Int, Int)
        /// Flip a bit inside the receipt bytes of one entry.
        case editReceipt(Int)
        /// Rewrite every call's signed response (decoded, edited, encoded again).
        case editResponse(@Sendable (inout SignedResponse) -> Void)
        /// Flip a bit of the first node of every consistency proof served.
        case editConsistencyProof
        /// Answer every log head request with this head (an older one the host kept).
        case serveLogHead([UInt8])
    }

    private struct State {
        var tamper = Tamper.none
        var firstCall: (Int, [UInt8], String?)?
        var firstDocument: [UInt8]?
    }

    let upstream: URL
    private let state = Mutex(State())
    private let server = Mutex<LoopbackHTTPServer?>(nil)

    init(upstream: URL) { self.upstream = upstream }

    func set(_ tamper: Tamper) { state.withLock { $0.tamper = tamper } }

    /// Starts listening on a free loopback port; returns the proxy's base URL.
    func start() async throws -> URL {
        let router = Router()
        router.get("**") { request, _ in try await self.forward(request) }
        router.post("**") { request, _ in try await self.forward(request) }
        let server = try await LoopbackHTTPServer.start(router)
        self.server.withLock { $0 = server }
        return server.url
    }

    func stop() { server.withLock { $0?.stop() } }

    private func forward(_ request: Request) async throws -> Response {
        var outgoing = URLRequest(url: URL(string: String(request.uri.description.dropFirst()), relativeTo: upstream)!)
        outgoing.httpMethod = request.method.rawValue
        for field in request.headers where ["authorization", "cloister-request-id", "content-type"].contains(field.name.canonicalName) {
            outgoing.setValue(field.value, forHTTPHeaderField: field.name.rawName)
        }
        let body = try await request.body.collect(upTo: 1 << 20)
        if request.method == .post { outgoing.httpBody = Data(body.readableBytesView) }
        let (data, response) = try await URLSession.shared.data(for: outgoing)
        let http = response as! HTTPURLResponse
        var status = http.statusCode
        var bytes = [UInt8](data)
        let type = http.value(forHTTPHeaderField: "Content-Type")
        let path = request.uri.path
        state.withLock { s in
            switch s.tamper {
            case .flipCallByte(let fromEnd) where path.hasPrefix("/v1/call/") && status == 200 && bytes.count > fromEnd:
                bytes[bytes.count - 1 - fromEnd] ^= 0x01
            case .replayCalls where path.hasPrefix("/v1/call/") && status == 200:
                if let first = s.firstCall { (status, bytes) = (first.0, first.1) } else { s.firstCall = (status, bytes, type) }
            case .staleAttestation where path == "/v1/attestation" && status == 200:
                if let first = s.firstDocument { bytes = first } else { s.firstDocument = bytes }
            case .dropReceipt(let i) where path == "/v1/receipts":
                bytes = Self.editLog(bytes) { list in if i < list.count { list.remove(at: i) } }
            case .swapReceipts(let i, let j) where path == "/v1/receipts":
                bytes = Self.editLog(bytes) { list in if max(i, j) < list.count { list.swapAt(i, j) } }
            case .editReceipt(let i) where path == "/v1/receipts":
                bytes = Self.editLog(bytes) { list in
                    guard i < list.count, let text = list[i]["entry"] as? String, var entry = Data(base64Encoded: text) else { return }
                    // A byte inside the receipt's `res` hash (after the text key "res" and a 32-byte string head):
                    // still well-formed, no longer what was sealed.
                    let marker: [UInt8] = [0x63, 0x72, 0x65, 0x73, 0x58, 0x20]
                    let bytes = [UInt8](entry)
                    guard let at = (0...(bytes.count - marker.count)).first(where: { Array(bytes[$0..<$0 + marker.count]) == marker }) else { return }
                    entry[at + marker.count] ^= 0x01
                    list[i]["entry"] = entry.base64EncodedString()
                }
            case .editResponse(let edit) where path.hasPrefix("/v1/call/") && status == 200:
                guard var response = try? SignedResponse(encoded: bytes) else { break }
                edit(&response)
                bytes = response.encoded
            case .editConsistencyProof where path == "/v1/log/consistency" && status == 200:
                guard var object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any], var proof = object["proof"] as? [String],
                    let first = proof.first, var node = Data(base64Encoded: first)
                else { break }
                node[0] ^= 0x01
                proof[0] = node.base64EncodedString()
                object["proof"] = proof
                bytes = Array((try? JSONSerialization.data(withJSONObject: object)) ?? Data(bytes))
            case .serveLogHead(let head) where path == "/v1/log/head" && status == 200:
                bytes = head
            default: break
            }
        }
        var headers = HTTPFields()
        if let type { headers[.contentType] = type }
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// Applies `edit` to the first page of the receipt log, keeping only the entries' JSON shape.
    static func editLog(_ bytes: [UInt8], _ edit: (inout [[String: Any]]) -> Void) -> [UInt8] {
        guard var page = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any], var list = page["receipts"] as? [[String: Any]] else {
            return bytes
        }
        edit(&list)
        page["receipts"] = list
        return Array((try? JSONSerialization.data(withJSONObject: page)) ?? Data(bytes))
    }
}
