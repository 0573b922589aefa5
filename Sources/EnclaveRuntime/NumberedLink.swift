import EnclaveWire
import Logging
import NIOCore
import VsockBridge

/// A request/answer connection to the host (store, sealing): requests are numbered, answers matched by number,
/// and a request that gets no answer within the timeout, or whose connection drops, fails with `StoreError`
/// (`timeout`, `disconnected`). Redials like every bridge link.
final class NumberedLink<Answer: Sendable>: Sendable {
    private struct Pending {
        var continuation: CheckedContinuation<Answer, any Error>
        var timer: Scheduled<Void>?

        func resume(with result: Result<Answer, any Error>) {
            timer?.cancel()
            continuation.resume(with: result)
        }
    }

    private struct State {
        var next: UInt64 = 0
        var pending: [UInt64: Pending] = [:]
    }

    private let link: BridgeLink
    private let state: Shared<State>
    private let timeout: TimeAmount

    /// `decode` reads an answer and its number; nil closes the connection as a protocol error.
    init(
        channel kind: ChannelKind, bridge: BridgeAddress, prover: ChannelProver, maxFrameSize: Int, group: EventLoopGroup, logger: Logger, timeout: TimeAmount,
        decode: @escaping @Sendable ([UInt8]) -> (UInt64, Answer)?
    ) {
        let state = Shared(State())
        self.state = state
        self.timeout = timeout
        link = BridgeLink(
            bridge: bridge, kind: kind, prover: prover,
            maxFrameSize: maxFrameSize, group: group, logger: logger,
            onConnect: { channel in
                channel.closeFuture.whenComplete { _ in
                    let failed = state.withLock { s in
                        defer { s.pending = [:] }
                        return Array(s.pending.values)
                    }
                    for p in failed { p.resume(with: .failure(StoreError(code: "disconnected"))) }
                }
            },
            onMessage: { message, channel in
                if case .close(let code, let reason) = message {
                    logger.notice("the host closed the \(kind.rawValue) channel", metadata: ["code": "\(code)", "reason": "\(reason.prefix(200))"])
                    channel.close(promise: nil)
                    return
                }
                guard case .data(let bytes) = message, let (id, answer) = decode(bytes) else {
                    logger.warning("\(kind.rawValue) channel: not an answer from the host; closing")
                    channel.close(promise: nil)
                    return
                }
                state.withLock { $0.pending.removeValue(forKey: id) }?.resume(with: .success(answer))
            })
    }

    /// A link whose answers are the messages `parse` reads that carry an answer number (`answerID`); anything else
    /// closes the connection as a protocol error.
    convenience init(
        channel kind: ChannelKind, bridge: BridgeAddress, prover: ChannelProver, maxFrameSize: Int, group: EventLoopGroup, logger: Logger, timeout: TimeAmount,
        parse: @escaping @Sendable ([UInt8]) throws -> Answer, answerID: @escaping @Sendable (Answer) -> UInt64?
    ) {
        self.init(
            channel: kind, bridge: bridge, prover: prover, maxFrameSize: maxFrameSize, group: group, logger: logger, timeout: timeout,
            decode: { bytes in
                guard let answer = try? parse(bytes), let id = answerID(answer) else { return nil }
                return (id, answer)
            })
    }

    func start() { link.start() }
    func stop() { link.stop() }

    /// Sends the request `make` builds with its number, and waits for the answer with that number. A link that is
    /// still dialing (at boot, after the host restarted) is waited for, within the same timeout.
    func request(_ make: (UInt64) -> [UInt8]) async throws -> Answer {
        let deadline = NIODeadline.now() + timeout
        var channel = link.channel
        while channel == nil {
            guard NIODeadline.now() < deadline else { throw StoreError(code: "disconnected") }
            try await Task.sleep(for: .milliseconds(20))
            channel = link.channel
        }
        let id = state.withLock { s -> UInt64 in
            s.next += 1
            return s.next
        }
        let bytes = make(id)
        let remaining = deadline - NIODeadline.now()
        return try await withCheckedThrowingContinuation { continuation in
            // Registered before the timer exists, so that the timer always finds what it is to fail.
            state.withLock { $0.pending[id] = Pending(continuation: continuation, timer: nil) }
            let timer = channel!.eventLoop.scheduleTask(in: max(remaining, .milliseconds(1))) { [state] () -> Void in
                state.withLock { $0.pending.removeValue(forKey: id) }?.resume(with: .failure(StoreError(code: "timeout")))
            }
            // If the answer came first, the request is gone and the timer is cancelled here instead.
            let stillPending = state.withLock { s -> Bool in
                guard s.pending[id] != nil else { return false }
                s.pending[id]?.timer = timer
                return true
            }
            if !stillPending { timer.cancel() }
            channel!.writeAndFlush(WireMessage.data(bytes)).whenFailure { [state] _ in
                state.withLock { $0.pending.removeValue(forKey: id) }?.resume(with: .failure(StoreError(code: "disconnected")))
            }
        }
    }
}
