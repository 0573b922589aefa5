import EnclaveWire
import Logging
import NIOCore
import Synchronization
import VsockBridge

/// The enclave's control channel: hello with the boot attestation, then a heartbeat and a status report every
/// interval. The host answers each heartbeat with its clock; the offset is kept for logs only (the host is not
/// trusted with time that matters).
public final class ControlClient: Sendable {
    private struct State {
        var sequence: UInt64 = 0
        var hostOffsetMs: Int64 = 0
        var timer: RepeatedTask?
        var answered: UInt64 = 0
    }

    private final class Shared: Sendable {
        let mutex = Mutex(State())
        func withLock<T>(_ body: (inout State) -> T) -> T { mutex.withLock { body(&$0) } }
    }

    private let link: BridgeLink
    private let state = Shared()

    public init(
        bridge: BridgeAddress, attestation: [UInt8], prover: ChannelProver, heartbeat: TimeAmount, maxFrameSize: Int = WireFrame.defaultMaxFrameSize,
        group: EventLoopGroup, logger: Logger, status: @escaping @Sendable () -> EnclaveStatus
    ) {
        let state = self.state
        link = BridgeLink(
            bridge: bridge, kind: .control, attestation: attestation, prover: prover,
            maxFrameSize: maxFrameSize, group: group, logger: logger,
            onConnect: { channel in
                logger.info("control channel up", metadata: ["bridge": "\(bridge)"])
                let task = channel.eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: heartbeat) { _ in
                    let sequence = state.withLock { s -> UInt64 in
                        s.sequence += 1
                        return s.sequence
                    }
                    channel.write(WireMessage.heartbeat(sequence: sequence, time: UInt64(WallClock.milliseconds())), promise: nil)
                    channel.writeAndFlush(WireMessage.status(status()), promise: nil)
                }
                state.withLock { $0.timer = task }
                channel.closeFuture.whenComplete { _ in
                    // The host may be a new one that never saw this boot's MAC key: sign until a session is answered.
                    prover.macUsable = false
                    task.cancel()
                    logger.notice("control channel down; dialing again")
                }
            },
            onMessage: { message, channel in
                switch message {
                case .heartbeat(_, let time):
                    prover.macUsable = true
                    let offset = Int64(clamping: time) - WallClock.milliseconds()
                    state.withLock {
                        $0.hostOffsetMs = offset
                        $0.answered += 1
                    }
                case .close(let code, let reason):
                    logger.notice("host closed the control channel", metadata: ["code": "\(code)", "reason": "\(reason.prefix(200))"])
                    channel.close(promise: nil)
                default:
                    logger.warning("control channel: unexpected \(message.name) from the host; closing")
                    channel.close(promise: nil)
                }
            })
    }

    public func start() { link.start() }

    public func stop() {
        state.withLock { $0.timer?.cancel() }
        link.stop()
    }

    /// Host clock minus enclave clock at the last heartbeat answer, in milliseconds.
    public var hostClockOffsetMilliseconds: Int64 { state.withLock { $0.hostOffsetMs } }
    /// Heartbeats the host has answered.
    public var heartbeatsAnswered: UInt64 { state.withLock { $0.answered } }
}
