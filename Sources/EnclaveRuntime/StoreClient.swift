import EnclaveWire
import Logging
import NIOCore
import Synchronization
import VsockBridge

/// Opaque blobs by key, kept by the host, with compare-and-swap on a version. What a workload puts here the
/// host can read, so a workload stores only what it has sealed.
public protocol BlobStore: Sendable {
    /// The blob under `key` and its version, or nil.
    func get(_ key: String) async throws -> (version: UInt64, value: [UInt8])?
    /// Stores `value` if the current version is `expectedVersion` (0: the key must not exist).
    func put(_ key: String, value: [UInt8], expectedVersion: UInt64) async throws -> (stored: Bool, version: UInt64)
}

/// Why a store request failed.
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public let code: String
    public var description: String { "store: \(code)" }
}

/// The enclave's end of the `store` channel: requests are numbered, answers matched by number, and a request
/// that gets no answer within the timeout, or whose connection drops, fails (the caller decides to retry).
public final class StoreClient: BlobStore {
    private struct State {
        var next: UInt64 = 0
        var pending: [UInt64: CheckedContinuation<StoreMessage, any Error>] = [:]
    }

    private let link: BridgeLink
    private let state: Shared<State>
    private let timeout: TimeAmount

    public init(bridge: BridgeAddress, maxFrameSize: Int, group: EventLoopGroup, logger: Logger, timeout: TimeAmount = .seconds(10)) {
        let state = Shared(State())
        self.state = state
        self.timeout = timeout
        link = BridgeLink(
            bridge: bridge, hello: .hello(version: WireMessage.protocolVersion, channel: .store, attestation: nil),
            maxFrameSize: maxFrameSize, group: group, logger: logger,
            onConnect: { channel in
                channel.closeFuture.whenComplete { _ in
                    let failed = state.withLock { s in
                        defer { s.pending = [:] }
                        return Array(s.pending.values)
                    }
                    for c in failed { c.resume(throwing: StoreError(code: "disconnected")) }
                }
            },
            onMessage: { message, channel in
                if case .close(let code, let reason) = message {
                    logger.notice("the host closed the store channel", metadata: ["code": "\(code)", "reason": "\(reason.prefix(200))"])
                    channel.close(promise: nil)
                    return
                }
                guard case .data(let bytes) = message, let answer = try? StoreMessage(encoded: bytes) else {
                    logger.warning("store channel: not a store message from the host; closing")
                    channel.close(promise: nil)
                    return
                }
                let id: UInt64
                switch answer {
                case .value(let i, _, _), .putResult(let i, _, _), .failed(let i, _): id = i
                case .get, .put:
                    logger.warning("store channel: the host sent a request; closing")
                    channel.close(promise: nil)
                    return
                }
                state.withLock { $0.pending.removeValue(forKey: id) }?.resume(returning: answer)
            })
    }

    public func start() { link.start() }
    public func stop() { link.stop() }

    private func request(_ make: (UInt64) -> StoreMessage) async throws -> StoreMessage {
        guard let channel = link.channel else { throw StoreError(code: "disconnected") }
        let id = state.withLock { s -> UInt64 in
            s.next += 1
            return s.next
        }
        let message = make(id)
        let timer = channel.eventLoop.scheduleTask(in: timeout) { [state] in
            state.withLock { $0.pending.removeValue(forKey: id) }?.resume(throwing: StoreError(code: "timeout"))
        }
        defer { timer.cancel() }
        return try await withCheckedThrowingContinuation { continuation in
            state.withLock { $0.pending[id] = continuation }
            channel.writeAndFlush(WireMessage.data(message.encoded)).whenFailure { [state] _ in
                state.withLock { $0.pending.removeValue(forKey: id) }?.resume(throwing: StoreError(code: "disconnected"))
            }
        }
    }

    public func get(_ key: String) async throws -> (version: UInt64, value: [UInt8])? {
        switch try await request({ .get(id: $0, key: key) }) {
        case .value(_, let version, let value): return version == 0 ? nil : (version, value)
        case .failed(_, let code): throw StoreError(code: code)
        default: throw StoreError(code: "protocol")
        }
    }

    public func put(_ key: String, value: [UInt8], expectedVersion: UInt64) async throws -> (stored: Bool, version: UInt64) {
        switch try await request({ .put(id: $0, key: key, expectedVersion: expectedVersion, value: value) }) {
        case .putResult(_, let stored, let version): return (stored, version)
        case .failed(_, let code): throw StoreError(code: code)
        default: throw StoreError(code: "protocol")
        }
    }
}

/// A mutex-guarded value a closure can capture (Mutex itself is not copyable).
final class Shared<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<T: Sendable>(_ body: (inout Value) throws -> T) rethrows -> T { try mutex.withLock { try body(&$0) } }
}
