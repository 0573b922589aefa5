import Foundation
import Hummingbird
import Synchronization

/// A Hummingbird application serving a router on a free loopback port, for tests that stand in for a host.
public final class LoopbackHTTPServer: Sendable {
    /// `http://127.0.0.1:PORT/`.
    public let url: URL
    private let task: Task<Void, any Error>

    private init(url: URL, task: Task<Void, any Error>) {
        self.url = url
        self.task = task
    }

    /// Starts serving `router`; returns once the port is listening.
    public static func start(_ router: Router<BasicRequestContext>) async throws -> LoopbackHTTPServer {
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) })
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        var iterator = stream.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            task.cancel()
            throw SocketError(description: "the HTTP server did not start")
        }
        return LoopbackHTTPServer(url: URL(string: "http://127.0.0.1:\(port)/")!, task: task)
    }

    public func stop() { task.cancel() }
}
