import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import VsockBridge

/// The admin listener (loopback by default, never the public port): `GET /healthz` answers 200 with
/// `"status": "ok"` while the enclave is up and 503 with `"status": "degraded"` and the reason otherwise;
/// `GET /metrics` is the Prometheus text format.
public struct AdminServer: Sendable {
    public let host: String
    public let port: Int
    let state: HostState
    let logger: Logger

    public init(host: String, port: Int, state: HostState, logger: Logger) {
        self.host = host
        self.port = port
        self.state = state
        self.logger = logger
    }

    /// The Hummingbird application, a `Service` for the host's group.
    public func application(onRunning: @escaping @Sendable (Int) -> Void = { _ in }) -> any Service {
        let router = Router()
        let state = self.state
        router.get("/healthz") { _, _ -> Response in
            let (healthy, json) = state.healthJSON()
            return Response(
                status: healthy ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: json + "\n")))
        }
        router.get("/metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: state.metricsText())))
        }
        return Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "cloister-host"),
            onServerRunning: { channel in onRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }
}
