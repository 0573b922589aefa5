/// One structured log record, as the enclave ships it to the host on the log channel.
public struct LogRecord: Sendable, Hashable {
    /// Severity, with the names swift-log uses.
    public enum Level: String, Sendable, CaseIterable {
        case trace, debug, info, notice, warning, error, critical
    }

    /// Most metadata entries one record may carry; a record with more is malformed.
    public static let maxMetadataEntries = 32

    /// The enclave's clock when the record was made, in milliseconds since 1970.
    public var time: UInt64
    public var level: Level
    public var message: String
    public var metadata: [String: String]

    public init(time: UInt64, level: Level, message: String, metadata: [String: String] = [:]) {
        self.time = time
        self.level = level
        self.message = message
        self.metadata = metadata
    }
}

/// What the enclave reports about itself on the control channel, with each heartbeat.
public struct EnclaveStatus: Sendable, Hashable {
    /// Ingress tunnels dialed and waiting for a client.
    public var idleTunnels: UInt64
    /// Ingress and egress tunnels carrying traffic.
    public var activeTunnels: UInt64
    /// Time since the enclave process started.
    public var uptimeMilliseconds: UInt64

    public init(idleTunnels: UInt64, activeTunnels: UInt64, uptimeMilliseconds: UInt64) {
        self.idleTunnels = idleTunnels
        self.activeTunnels = activeTunnels
        self.uptimeMilliseconds = uptimeMilliseconds
    }
}
