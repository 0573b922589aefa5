import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// One HTTP/1.1 request to the instance metadata service on a connection of its own, with the answer's body
/// bounded while it arrives and the whole exchange bounded in time.
///
/// Plain HTTP on purpose: IMDS speaks nothing else, and no proxy is ever consulted for a link-local address.
struct MetadataHTTPExchange: Sendable {
    /// A status and a body no longer than the configured bound.
    struct Response: Sendable {
        let status: Int
        let body: [UInt8]
    }

    let configuration: InstanceMetadataConfiguration
    let group: any EventLoopGroup

    /// Sends `method path` with `headers` and an empty body; returns the answer whatever its status.
    func send(_ method: HTTPMethod, _ path: String, headers: [(String, String)]) async throws(InstanceCredentialsError)
        -> Response
    {
        let started = ContinuousClock.now
        let timedOut = TimeoutFlag()
        let what = "\(method.rawValue) \(path)"
        do {
            let channel = try await ClientBootstrap(group: group)
                .connectTimeout(TimeAmount(configuration.requestTimeout))
                .connect(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                            wrappingChannelSynchronously: channel
                        )
                    }
                }
            let left = configuration.requestTimeout - (ContinuousClock.now - started)
            let timer = channel.channel.eventLoop.scheduleTask(in: TimeAmount(max(left, .zero))) {
                timedOut.fired.store(true, ordering: .relaxed)
                channel.channel.close(promise: nil)
            }
            defer { timer.cancel() }
            return try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(.head(requestHead(method, path, headers)))
                try await outbound.write(.end(nil))
                var status: Int?
                var body: [UInt8] = []
                for try await part in inbound {
                    switch part {
                    case .head(let head):
                        status = Int(head.status.code)
                    case .body(let buffer):
                        guard body.count + buffer.readableBytes <= configuration.maxBodyBytes else {
                            throw InstanceCredentialsError(
                                .bodyTooLarge,
                                "\(what): the answer is longer than \(configuration.maxBodyBytes) bytes"
                            )
                        }
                        body += buffer.readableBytesView
                    case .end:
                        if let status { return Response(status: status, body: body) }
                    }
                }
                throw InstanceCredentialsError(.unreachable, "\(what): the connection closed before a whole answer")
            }
        } catch let error as InstanceCredentialsError {
            if timedOut.fired.load(ordering: .relaxed) {
                throw .init(.timedOut, "\(what): no answer within the timeout")
            }
            throw error
        } catch {
            var connectTimedOut = false
            if let error = error as? ChannelError, case .connectTimeout = error { connectTimedOut = true }
            if timedOut.fired.load(ordering: .relaxed) || connectTimedOut {
                throw .init(.timedOut, "\(what): no answer within the timeout", underlying: error)
            }
            throw .init(
                .unreachable,
                "\(what): \(configuration.host):\(configuration.port) did not answer (\(error))",
                underlying: error
            )
        }
    }

    private func requestHead(_ method: HTTPMethod, _ path: String, _ extra: [(String, String)]) -> HTTPRequestHead {
        var headers = HTTPHeaders()
        headers.add(
            name: "Host",
            value: configuration.port == 80 ? configuration.host : "\(configuration.host):\(configuration.port)"
        )
        headers.add(name: "Connection", value: "close")
        if method == .PUT { headers.add(name: "Content-Length", value: "0") }
        for (name, value) in extra { headers.add(name: name, value: value) }
        return HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers)
    }

    private final class TimeoutFlag: Sendable {
        let fired = Atomic(false)
    }
}
