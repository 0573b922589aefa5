import DNSStub
import Synchronization

/// A `HostResolver` that answers from a table the test can change, counts the calls per host, and can hold every
/// resolution until the test opens its gate.
final class TableResolver: HostResolver {
    private struct State {
        var table: [String: Result<DNSAnswer, DNSError>] = [:]
        var calls: [String: Int] = [:]
        var gateOpen = true
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    func set(_ host: String, _ result: Result<DNSAnswer, DNSError>) {
        state.withLock { $0.table[host] = result }
    }

    func set(_ host: String, addresses: [DNSAddress], ttl: UInt32) {
        set(host, .success(DNSAnswer(addresses: addresses, ttl: ttl)))
    }

    func calls(_ host: String) -> Int {
        state.withLock { $0.calls[host, default: 0] }
    }

    func closeGate() {
        state.withLock { $0.gateOpen = false }
    }

    func openGate() {
        let waiting = state.withLock { state in
            state.gateOpen = true
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    func resolve(_ host: String) async throws -> DNSAnswer {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let proceed = state.withLock { state in
                state.calls[host, default: 0] += 1
                if state.gateOpen { return true }
                state.waiting.append(continuation)
                return false
            }
            if proceed { continuation.resume() }
        }
        let entry = state.withLock { $0.table[host] }
        guard let entry else { throw DNSError(.nameError, "\(host) is not in the table") }
        return try entry.get()
    }
}

/// A clock the test moves by hand, in milliseconds.
final class ManualClock: Sendable {
    private let milliseconds = Mutex<UInt64>(0)

    var now: UInt64 { milliseconds.withLock { $0 } }

    func set(_ value: UInt64) {
        milliseconds.withLock { $0 = value }
    }

    var function: @Sendable () -> UInt64 { { [self] in now } }
}
