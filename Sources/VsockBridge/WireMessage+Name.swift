import EnclaveWire

extension WireMessage {
    /// The message type's name, for logs.
    public var name: String {
        switch self {
        case .challenge: "challenge"
        case .hello: "hello"
        case .heartbeat: "heartbeat"
        case .data: "data"
        case .close: "close"
        case .open: "open"
        case .connect: "connect"
        case .connected: "connected"
        case .log: "log"
        case .status: "status"
        }
    }
}
