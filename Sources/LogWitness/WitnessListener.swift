import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The witness's own HTTP listener: `GET /checkpoint`, the newest head it cosigned (a signed note, text); `GET
/// /healthz`, how its last round went (JSON; 200 when it cosigned, 503 when it failed).
public struct WitnessListener: Sendable {
    public let host: String
    public let port: Int
    let witness: Witness
    let logger: Logger

    public init(host: String, port: Int, witness: Witness, logger: Logger) {
        self.host = host
        self.port = port
        self.witness = witness
        self.logger = logger
    }

    struct Health: Encodable {
        let status: String
        let size: UInt64?
        let cosignedAt: UInt64?
        let rounds: Int
        let refusals: Int
        let error: Failure?
        struct Failure: Encodable {
            let code: String
            let message: String
        }
    }

    /// The listener, a `Service`; `onRunning` gets the port it listens on.
    public func application(onRunning: @escaping @Sendable (Int) -> Void = { _ in }) -> some Service {
        let router = Router()
        let witness = self.witness
        router.get("/checkpoint") { _, _ -> Response in
            guard let note = witness.currentStatus.cosigned else {
                return Self.json(503, Health(status: "noCheckpoint", size: nil, cosignedAt: nil, rounds: 0, refusals: 0, error: nil))
            }
            return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: note)))
        }
        router.get("/healthz") { _, _ -> Response in
            let s = witness.currentStatus
            let health = Health(
                status: s.lastError == nil && s.cosigned != nil ? "ok" : "failing", size: s.checkpoint?.size, cosignedAt: s.cosignedAt, rounds: s.rounds,
                refusals: s.refusals, error: s.lastError.map { Health.Failure(code: $0.code.rawValue, message: $0.message) })
            return Self.json(health.status == "ok" ? 200 : 503, health)
        }
        return Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "cloister-witness"),
            onServerRunning: { channel in onRunning(channel.localAddress?.port ?? 0) }, logger: logger)
    }

    static func json(_ status: Int, _ value: Health) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = Array((try? encoder.encode(value)) ?? Data()) + [0x0A]
        return Response(status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
