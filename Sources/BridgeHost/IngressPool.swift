import Synchronization
import NIOCore

/// The host's idle reverse tunnels: connections the enclave dialed and said hello on as `ingress`, each waiting
/// to carry one client. A client that finds none waits, up to a bound, for the enclave to dial another; it is
/// never left waiting forever.
public final class IngressPool: Sendable {
    /// Why no tunnel was handed out.
    public enum Failure: Error, Hashable, Sendable {
        /// None arrived within the hold time.
        case timedOut(milliseconds: Int64)
        /// The pool is closed (the host is stopping).
        case closed
    }

    private struct Waiter {
        let id: UInt64
        let promise: EventLoopPromise<Channel>
        let timeout: Scheduled<Void>?
    }

    private struct State {
        var idle: [Channel] = []
        var waiters: [Waiter] = []
        var nextID: UInt64 = 0
        var closed = false
    }

    private let state = Mutex(State())

    public init() {}

    /// Tunnels waiting for a client.
    public var idleCount: Int { state.withLock { $0.idle.count } }
    /// Clients waiting for a tunnel.
    public var waitingCount: Int { state.withLock { $0.waiters.count } }

    /// Offers a tunnel: it goes to the longest-waiting client, or joins the idle list until one comes (and leaves
    /// it if it closes first).
    public func add(_ tunnel: Channel) {
        let waiter: Waiter? = state.withLock { s in
            if s.closed { return nil }
            if !s.waiters.isEmpty { return s.waiters.removeFirst() }
            s.idle.append(tunnel)
            return nil
        }
        if let waiter {
            waiter.timeout?.cancel()
            waiter.promise.succeed(tunnel)
            return
        }
        if state.withLock({ $0.closed }) {
            tunnel.close(promise: nil)
            return
        }
        tunnel.closeFuture.whenComplete { [weak self] _ in
            self?.state.withLock { s in s.idle.removeAll { $0 === tunnel } }
        }
    }

    /// A tunnel for one client, preferring one on `loop`; fails after `hold` if none comes.
    public func take(on loop: EventLoop, hold: TimeAmount) -> EventLoopFuture<Channel> {
        let promise = loop.makePromise(of: Channel.self)
        let outcome: Result<Channel, Failure>? = state.withLock { s in
            if s.closed { return .failure(.closed) }
            while !s.idle.isEmpty {
                let i = s.idle.firstIndex { $0.eventLoop === loop } ?? 0
                let tunnel = s.idle.remove(at: i)
                if tunnel.isActive { return .success(tunnel) }
            }
            if hold.nanoseconds <= 0 { return .failure(.timedOut(milliseconds: 0)) }
            let id = s.nextID
            s.nextID += 1
            let timeout = loop.scheduleTask(in: hold) { [weak self] in
                let removed = self?.state.withLock { s -> Bool in
                    guard let i = s.waiters.firstIndex(where: { $0.id == id }) else { return false }
                    s.waiters.remove(at: i)
                    return true
                } ?? true
                if removed { promise.fail(Failure.timedOut(milliseconds: hold.nanoseconds / 1_000_000)) }
            }
            s.waiters.append(Waiter(id: id, promise: promise, timeout: timeout))
            return nil
        }
        switch outcome {
        case .success(let tunnel): promise.succeed(tunnel)
        case .failure(let f): promise.fail(f)
        case nil: break
        }
        return promise.futureResult
    }

    /// Closes every idle tunnel and fails every waiting client; later tunnels are closed on arrival.
    public func close() {
        let (idle, waiters) = state.withLock { s -> ([Channel], [Waiter]) in
            s.closed = true
            defer {
                s.idle = []
                s.waiters = []
            }
            return (s.idle, s.waiters)
        }
        for w in waiters {
            w.timeout?.cancel()
            w.promise.fail(Failure.closed)
        }
        for t in idle { t.close(promise: nil) }
    }
}
