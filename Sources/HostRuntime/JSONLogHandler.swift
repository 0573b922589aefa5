import EnclaveWire
import Logging
import Synchronization
import VsockBridge

#if canImport(Glibc)
import Glibc
#endif

/// Writes one JSON object per line to standard output: `time` (ISO 8601, UTC, milliseconds), `level`, `label`,
/// `message`, then the metadata as string fields. Lines from the enclave carry `"label": "enclave"` and a
/// `source` of `log` (its log channel) or `console` (its standard output and error, in emulation).
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level
    public let label: String
    private let sink: LineSink

    public init(label: String, level: Logger.Level = .info, sink: LineSink = .standardOutput) {
        self.label = label
        self.logLevel = level
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [(String, String)] = []
        var merged = metadata
        for (k, v) in metadataProvider?.get() ?? [:] { merged[k] = v }
        for (k, v) in event.metadata ?? [:] { merged[k] = v }
        for (k, v) in merged.sorted(by: { $0.key < $1.key }) { fields.append((k, "\(v)")) }
        sink.write(JSONLine.make(time: WallClock.milliseconds(), level: event.level.rawValue, label: label, message: "\(event.message)", fields: fields))
    }
}

/// Where log lines go: standard output, serialized so that lines from many threads never interleave.
public final class LineSink: Sendable {
    private let lock = Mutex(())
    private let fd: Int32

    public init(fd: Int32) { self.fd = fd }

    public static let standardOutput = LineSink(fd: 1)

    public func write(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(10)
        lock.withLock { _ in
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                offset += n
            }
        }
    }
}

/// JSON text for one log line.
public enum JSONLine {
    public static func make(time: Int64, level: String, label: String, message: String, fields: [(String, String)]) -> String {
        var s = "{\"time\":\"\(iso8601(time))\",\"level\":\"\(escape(level))\",\"label\":\"\(escape(label))\",\"message\":\"\(escape(message))\""
        for (k, v) in fields where k != "time" && k != "level" && k != "label" && k != "message" {
            s += ",\"\(escape(k))\":\"\(escape(v))\""
        }
        return s + "}"
    }

    /// A record the enclave shipped, as a host log line.
    public static func make(enclave record: LogRecord) -> String {
        var fields = record.metadata.filter { $0.key != "label" }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        fields.insert(("source", "log"), at: 0)
        if let l = record.metadata["label"], l != "enclave" { fields.insert(("logger", l), at: 1) }
        return make(time: Int64(clamping: record.time), level: record.level.rawValue, label: "enclave", message: record.message, fields: fields)
    }

    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20 || c.value == 0x7F || (0x2028...0x2029).contains(c.value):
                let hex = String(c.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func iso8601(_ ms: Int64) -> String {
        var t = time_t(ms / 1000)
        var tm = tm()
        gmtime_r(&t, &tm)
        func pad(_ v: Int32, _ w: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return "\(pad(tm.tm_year + 1900, 4))-\(pad(tm.tm_mon + 1, 2))-\(pad(tm.tm_mday, 2))T\(pad(tm.tm_hour, 2)):\(pad(tm.tm_min, 2)):\(pad(tm.tm_sec, 2)).\(pad(Int32(ms % 1000), 3))Z"
    }
}
