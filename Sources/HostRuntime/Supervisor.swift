import BridgeHost
import EnclaveWire
import Logging
import ServiceLifecycle
import Synchronization
import VsockBridge

/// What the host knows about its enclave, for `/healthz` and `/metrics`.
public struct EnclaveHealth: Sendable {
    public enum State: String, Sendable {
        /// Launched, no hello yet.
        case starting
        /// Said hello and heartbeats on time.
        case up
        /// Dead, silent or failed to start; a restart is scheduled.
        case down
        case stopped
    }

    public var state = State.starting
    /// Why it is not up, in a sentence.
    public var reason: String?
    /// Process id or enclave id of the current launch.
    public var identifier: String?
    public var launches = 0
    public var restarts = 0
    public var heartbeats: UInt64 = 0
    /// Monotonic milliseconds of the last heartbeat.
    public var lastHeartbeat: Int64?
    public var status: EnclaveStatus?
    /// Size of the boot attestation document the enclave presented, if any.
    public var attestationBytes: Int?

    public var isHealthy: Bool { state == .up }
}

/// Starts the enclave and keeps it running: an enclave that exits, never says hello within the boot timeout, or
/// misses `missedHeartbeats` heartbeats in a row is stopped (forcibly if need be) and started again after a
/// backoff that doubles from `restartMin` to `restartMax` (and starts over once an enclave has stayed up for a
/// minute). On graceful shutdown it terminates the enclave and returns.
public final class Supervisor: Service, Sendable {
    /// Timing of supervision.
    public struct Timing: Sendable {
        public var heartbeat: Duration
        public var missedHeartbeats: Int
        public var bootTimeout: Duration
        public var restartMin: Duration
        public var restartMax: Duration
        /// How long a terminated enclave has to stop before it is killed.
        public var terminateGrace: Duration = .seconds(5)

        public init(heartbeat: Duration, missedHeartbeats: Int, bootTimeout: Duration, restartMin: Duration, restartMax: Duration) {
            self.heartbeat = heartbeat
            self.missedHeartbeats = missedHeartbeats
            self.bootTimeout = bootTimeout
            self.restartMin = restartMin
            self.restartMax = restartMax
        }

        public init(_ m: DeploymentManifest) {
            self.init(
                heartbeat: .milliseconds(m.bridge.heartbeatMs), missedHeartbeats: m.bridge.missedHeartbeats,
                bootTimeout: .milliseconds(m.host.bootTimeoutMs), restartMin: .milliseconds(m.host.restartMinMs),
                restartMax: .milliseconds(m.host.restartMaxMs))
        }
    }

    enum Event: Sendable {
        case control(ControlEvent)
        case exited(launch: Int, how: String)
        case tick
        case shutdown
    }

    public let timing: Timing
    private let launcher: any EnclaveLauncher
    private let logger: Logger
    private let events: AsyncStream<Event>
    private let continuation: AsyncStream<Event>.Continuation
    private let health = Mutex(EnclaveHealth())

    public init(launcher: any EnclaveLauncher, timing: Timing, logger: Logger) {
        self.launcher = launcher
        self.timing = timing
        self.logger = logger
        (events, continuation) = AsyncStream.makeStream(of: Event.self)
    }

    /// The current health.
    public var snapshot: EnclaveHealth { health.withLock { $0 } }

    /// Feeds a control-channel event from the bridge.
    public func receive(_ event: ControlEvent) {
        continuation.yield(.control(event))
    }

    public func run() async throws {
        let tickInterval = min(timing.heartbeat / 4, .milliseconds(250))
        let ticker = Task { [continuation] in
            while !Task.isCancelled {
                try? await Task.sleep(for: tickInterval)
                continuation.yield(.tick)
            }
        }
        defer { ticker.cancel() }
        try await withGracefulShutdownHandler {
            try await supervise()
        } onGracefulShutdown: { [continuation] in
            continuation.yield(.shutdown)
        }
    }

    private func supervise() async throws {
        var iterator = events.makeAsyncIterator()
        var backoff = timing.restartMin
        var launch = 0
        while true {
            launch += 1
            let thisLaunch = launch
            health.withLock {
                $0.state = .starting
                $0.launches = thisLaunch
                $0.restarts = thisLaunch - 1
                $0.identifier = nil
                $0.status = nil
            }
            let started = ContinuousClock.now
            var enclave: (any LaunchedEnclave)?
            var reason: String
            var wasUp = false
            do {
                let e = try await launcher.launch(onExit: { [continuation] how in continuation.yield(.exited(launch: thisLaunch, how: how)) })
                enclave = e
                health.withLock { $0.identifier = e.identifier }
                logger.info("enclave launched", metadata: ["enclave": "\(e.identifier)", "launch": "\(thisLaunch)"])
                (reason, wasUp) = await watch(launch: thisLaunch, started: started, iterator: &iterator)
            } catch {
                reason = "launch failed: \(error)"
            }
            if reason == "shutdown" {
                health.withLock { $0.state = .stopped; $0.reason = "host stopping" }
                if let enclave {
                    logger.info("terminating the enclave", metadata: ["enclave": "\(enclave.identifier)"])
                    await enclave.terminate(grace: timing.terminateGrace)
                }
                return
            }
            health.withLock {
                $0.state = .down
                $0.reason = reason
            }
            logger.error("enclave down: \(reason)", metadata: ["launch": "\(thisLaunch)"])
            await enclave?.terminate(grace: .milliseconds(500))
            if wasUp && ContinuousClock.now - started > .seconds(60) { backoff = timing.restartMin }
            logger.notice("restarting the enclave", metadata: ["in": "\(backoff)"])
            if await sleepOrShutdown(backoff, iterator: &iterator) {
                health.withLock { $0.state = .stopped; $0.reason = "host stopping" }
                return
            }
            backoff = min(backoff * 2, timing.restartMax)
        }
    }

    /// Waits until this launch ends; returns why (or "shutdown") and whether it was ever up.
    private func watch(launch: Int, started: ContinuousClock.Instant, iterator: inout AsyncStream<Event>.Iterator) async -> (String, Bool) {
        var session: UInt64?
        var lastBeat = ContinuousClock.now
        var wasUp = false
        let silence = timing.heartbeat * timing.missedHeartbeats
        while let event = await iterator.next() {
            switch event {
            case .shutdown:
                return ("shutdown", wasUp)
            case .exited(let l, let how) where l == launch:
                return (how, wasUp)
            case .exited:
                continue
            case .control(.hello(let s, let attestation)):
                session = s
                lastBeat = .now
                wasUp = true
                health.withLock {
                    $0.state = .up
                    $0.reason = nil
                    $0.attestationBytes = attestation?.count
                    $0.lastHeartbeat = WallClock.monotonicMilliseconds()
                }
                logger.info("enclave said hello", metadata: ["session": "\(s)", "attestation_bytes": "\(attestation?.count ?? 0)"])
            case .control(.heartbeat(let s, _, _)) where s == session:
                lastBeat = .now
                health.withLock {
                    $0.heartbeats += 1
                    $0.lastHeartbeat = WallClock.monotonicMilliseconds()
                    if $0.state != .up { $0.state = .up; $0.reason = nil }
                }
            case .control(.status(let s, let status)) where s == session:
                health.withLock { $0.status = status }
            case .control(.closed(let s)) where s == session:
                // The process may still be alive and dial again; silence decides.
                health.withLock {
                    $0.state = .down
                    $0.reason = "control channel closed"
                }
            case .control:
                continue
            case .tick:
                let now = ContinuousClock.now
                if session == nil && now - started > timing.bootTimeout {
                    return ("no hello within \(timing.bootTimeout)", wasUp)
                }
                if session != nil && now - lastBeat > silence {
                    return ("silent: \(timing.missedHeartbeats) heartbeats missed", wasUp)
                }
            }
        }
        return ("shutdown", wasUp)
    }

    /// Sleeps, unless shutdown comes first (then true).
    private func sleepOrShutdown(_ duration: Duration, iterator: inout AsyncStream<Event>.Iterator) async -> Bool {
        let end = ContinuousClock.now + duration
        while ContinuousClock.now < end {
            guard let event = await iterator.next() else { return true }
            if case .shutdown = event { return true }
        }
        return false
    }
}
