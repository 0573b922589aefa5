import EnclaveWire
import Logging
import NIOCore
import Synchronization
import VsockBridge

#if canImport(Glibc)
import Glibc
#endif

/// Ships the enclave's log records to the host over the log channel. Records made while the channel is down, or
/// while the host does not read it (the channel is not writable), wait in a queue bounded by count and bytes (the
/// oldest are dropped first, and the next record says how many); errors and worse are also written to standard
/// error, which is the enclave console.
public final class LogShipper: Sendable {
    /// Records kept while the log channel is down or full.
    public static let queueLimit = 1000
    /// Bytes of the records kept while the log channel is down or full (`LogShipper.bytes` of each).
    public static let queueBytesLimit = 1 << 20

    private struct State {
        var queue: [LogRecord] = []
        var queueBytes = 0
        var dropped = 0
        var link: BridgeLink?
    }

    /// The bytes a queued record holds, from above: its text and metadata, and their storage.
    static func bytes(_ r: LogRecord) -> Int {
        128 + r.message.utf8.count + r.metadata.reduce(0) { $0 + 64 + $1.key.utf8.count + $1.value.utf8.count }
    }

    /// Bytes the queued records hold now.
    public var queuedBytes: Int { state.withLock { $0.queueBytes } }

    private let state = Mutex(State())

    public init() {}

    /// Connects to the bridge and flushes what is queued.
    public func connect(bridge: BridgeAddress, prover: ChannelProver, group: EventLoopGroup, maxFrameSize: Int, logger: Logger) {
        let link = BridgeLink(
            bridge: bridge, kind: .log, prover: prover, maxFrameSize: maxFrameSize, group: group, logger: logger,
            onConnect: { [self] channel in
                let queued = state.withLock { s -> [LogRecord] in
                    defer {
                        s.queue.removeAll()
                        s.queueBytes = 0
                    }
                    return s.queue
                }
                for r in queued { channel.write(WireMessage.log(r), promise: nil) }
                channel.flush()
            },
            onMessage: { message, channel in
                if case .close = message { channel.close(promise: nil) }
            })
        state.withLock { $0.link = link }
        link.start()
    }

    /// Stops shipping; returns once the records already shipped have left (at most two seconds).
    public func stop() async {
        await state.withLock { $0.link }?.stopAndWait(within: .seconds(2))
    }

    func ship(_ record: LogRecord) {
        if record.level == .error || record.level == .critical {
            let line = "\(record.level.rawValue): \(record.message) \(record.metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))\n"
            var bytes = Array(line.utf8)
            _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
        }
        let (channel, queued): (Channel?, [LogRecord]) = state.withLock { s in
            // A host that does not read the channel must not make its writes pile up here: wait in the queue.
            if let c = s.link?.channel, c.isActive, c.isWritable {
                defer {
                    s.queue.removeAll()
                    s.queueBytes = 0
                }
                return (c, s.queue)
            }
            var r = record
            if s.dropped > 0 { r.metadata["dropped_before"] = "\(s.dropped)" }
            let size = Self.bytes(r)
            guard size <= Self.queueBytesLimit else {
                s.dropped += 1
                return (nil, [])
            }
            while !s.queue.isEmpty, s.queue.count >= Self.queueLimit || s.queueBytes + size > Self.queueBytesLimit {
                s.queueBytes -= Self.bytes(s.queue.removeFirst())
                s.dropped += 1
            }
            s.queue.append(r)
            s.queueBytes += size
            return (nil, [])
        }
        guard let channel else { return }
        for r in queued { channel.write(WireMessage.log(r), promise: nil) }
        channel.writeAndFlush(WireMessage.log(record), promise: nil)
    }

    /// A swift-log handler that ships through this shipper.
    public func handler(label: String) -> some LogHandler {
        ShippingLogHandler(shipper: self, label: label)
    }
}

struct ShippingLogHandler: LogHandler {
    let shipper: LogShipper
    let label: String
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields: [String: String] = ["label": label]
        for (k, v) in metadata { fields[k] = "\(v)" }
        for (k, v) in metadataProvider?.get() ?? [:] { fields[k] = "\(v)" }
        for (k, v) in event.metadata ?? [:] { fields[k] = "\(v)" }
        // A record must fit the wire's bounds, or the host would drop the whole log connection.
        if fields.count > LogRecord.maxMetadataEntries - 1 {
            fields = Dictionary(uniqueKeysWithValues: fields.sorted { $0.key < $1.key }.prefix(LogRecord.maxMetadataEntries - 1).map { ($0.key, $0.value) })
        }
        let level = LogRecord.Level(rawValue: event.level.rawValue) ?? .info
        var text = "\(event.message)"
        if text.utf8.count > 16384 { text = String(text.utf8.prefix(16384)) ?? String(text.prefix(4096)) }
        shipper.ship(LogRecord(time: UInt64(WallClock.milliseconds()), level: level, message: text, metadata: fields))
    }
}
