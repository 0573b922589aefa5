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
    /// A page of the blobs whose keys sort after `after`, in key order, and whether more follow.
    func list(after: String) async throws -> (entries: [StoreEntry], more: Bool)
}

extension BlobStore {
    /// Every blob, page by page, to `body`.
    func forEachPage(_ body: ([StoreEntry]) throws -> Void) async throws {
        var after = ""
        while true {
            let page = try await list(after: after)
            try body(page.entries)
            guard page.more, let last = page.entries.last else { return }
            after = last.key
        }
    }
}

/// Why a store request failed.
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public let code: String
    public var description: String { "store: \(code)" }
}

/// The enclave's end of the `store` channel.
public final class StoreClient: BlobStore {
    private let link: NumberedLink<StoreMessage>

    public init(bridge: BridgeAddress, prover: ChannelProver, maxFrameSize: Int, group: EventLoopGroup, logger: Logger, timeout: TimeAmount = .seconds(10)) {
        link = NumberedLink(
            channel: .store, bridge: bridge, prover: prover, maxFrameSize: maxFrameSize, group: group, logger: logger, timeout: timeout,
            parse: { try StoreMessage(encoded: $0) }, answerID: \.answerID)
    }

    public func start() { link.start() }
    public func stop() { link.stop() }

    public func get(_ key: String) async throws -> (version: UInt64, value: [UInt8])? {
        switch try await link.request({ StoreMessage.get(id: $0, key: key).encoded }) {
        case .value(_, let version, let value): return version == 0 ? nil : (version, value)
        case .failed(_, let code): throw StoreError(code: code)
        default: throw StoreError(code: "protocol")
        }
    }

    public func put(_ key: String, value: [UInt8], expectedVersion: UInt64) async throws -> (stored: Bool, version: UInt64) {
        // The host closes the channel on a message it cannot read, which would fail every pending request with it.
        guard value.count <= StoreMessage.maxValueBytes else { throw StoreError(code: "valueTooLarge") }
        switch try await link.request({ StoreMessage.put(id: $0, key: key, expectedVersion: expectedVersion, value: value).encoded }) {
        case .putResult(_, let stored, let version): return (stored, version)
        case .failed(_, let code): throw StoreError(code: code)
        default: throw StoreError(code: "protocol")
        }
    }

    public func list(after: String) async throws -> (entries: [StoreEntry], more: Bool) {
        switch try await link.request({ StoreMessage.list(id: $0, after: after).encoded }) {
        case .entries(_, let entries, let more):
            // A page must go on from where it was asked to; the ordering within it the parser checked.
            guard entries.first.map({ $0.key > after }) ?? true, more ? !entries.isEmpty : true else { throw StoreError(code: "protocol") }
            return (entries, more)
        case .failed(_, let code): throw StoreError(code: code)
        default: throw StoreError(code: "protocol")
        }
    }
}

extension StoreMessage {
    /// The request number of an answer from the host (nil for requests).
    var answerID: UInt64? {
        switch self {
        case .value(let id, _, _), .putResult(let id, _, _), .failed(let id, _), .entries(let id, _, _): id
        case .get, .put, .list: nil
        }
    }
}

/// A mutex-guarded value a closure can capture (Mutex itself is not copyable).
final class Shared<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<T: Sendable>(_ body: (inout Value) throws -> T) rethrows -> T { try mutex.withLock { try body(&$0) } }
}
