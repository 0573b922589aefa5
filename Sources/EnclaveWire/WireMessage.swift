import CBOR

/// The kinds of connection an enclave opens to its host's bridge port (the enclave always dials).
public enum ChannelKind: String, Sendable, Hashable, CaseIterable {
    /// Hello with the boot attestation, heartbeats, status, clock sync.
    case control
    /// The enclave's structured logs.
    case log
    /// An idle reverse tunnel the host pairs with one incoming client connection.
    case ingress
    /// A workload's outbound connection, to an allowlisted destination.
    case egress
    /// The pull queue: the enclave long-polls jobs and returns results.
    case queue
    /// Opaque blobs the host keeps for the enclave.
    case store
}

/// One message of the host-enclave protocol. Each is one frame: a CBOR array whose first element is the
/// message type, followed by its fields in a fixed order.
public enum WireMessage: Sendable, Hashable {
    /// First message on every connection, from the enclave: protocol version, channel kind, and (on control)
    /// the boot attestation document.
    case hello(version: UInt64, channel: ChannelKind, attestation: [UInt8]?)
    /// Liveness, either way: a sequence number and the sender's clock in milliseconds.
    case heartbeat(sequence: UInt64, time: UInt64)
    /// Opaque payload (tunnel bytes, a serialized request or result).
    case data([UInt8])
    /// The sender is closing the connection, with a stable code and a reason for logs.
    case close(code: String, reason: String)

    /// The only protocol version this build speaks.
    public static let protocolVersion: UInt64 = 1

    enum Tag: UInt64 {
        case hello = 0, heartbeat = 1, data = 2, close = 3
    }

    /// The message as CBOR.
    public var cbor: CBOR {
        switch self {
        case .hello(let v, let c, let a):
            return [.unsigned(Tag.hello.rawValue), .unsigned(v), .text(c.rawValue), a.map { .bytes($0) } ?? .null]
        case .heartbeat(let s, let t): return [.unsigned(Tag.heartbeat.rawValue), .unsigned(s), .unsigned(t)]
        case .data(let b): return [.unsigned(Tag.data.rawValue), .bytes(b)]
        case .close(let c, let r): return [.unsigned(Tag.close.rawValue), .text(c), .text(r)]
        }
    }

    /// Decoding bounds for one message: shallow, few items, never larger than a frame.
    static func limits(maxFrameSize: Int) -> CBORDecoder.Limits {
        CBORDecoder.Limits(maxInputSize: maxFrameSize, maxDepth: 2, maxItems: 8)
    }

    /// Parses one frame's payload strictly: the exact field count and types of its message type.
    public init(payload: [UInt8], maxFrameSize: Int = WireFrame.defaultMaxFrameSize) throws(WireError) {
        let item: CBOR
        do {
            item = try CBORDecoder(limits: Self.limits(maxFrameSize: maxFrameSize)).decode(payload)
        } catch {
            throw WireError(.malformedCBOR, "\(error)")
        }
        guard let fields = item.array, let raw = fields.first?.uint64, let tag = Tag(rawValue: raw) else {
            throw WireError(.malformedMessage, "not a [type, fields...] array with a known type")
        }
        switch (tag, fields.count) {
        case (.hello, 4):
            guard let version = fields[1].uint64, let name = fields[2].text else { throw WireError(.malformedMessage, "hello fields") }
            guard version == Self.protocolVersion else { throw WireError(.unsupportedVersion, "version \(version), this side speaks \(Self.protocolVersion)") }
            guard let channel = ChannelKind(rawValue: name) else { throw WireError(.unknownChannel, "channel \"\(name.prefix(64))\"") }
            let attestation: [UInt8]?
            switch fields[3] {
            case .null: attestation = nil
            case .bytes(let b): attestation = b
            default: throw WireError(.malformedMessage, "hello attestation must be bytes or null")
            }
            self = .hello(version: version, channel: channel, attestation: attestation)
        case (.heartbeat, 3):
            guard let s = fields[1].uint64, let t = fields[2].uint64 else { throw WireError(.malformedMessage, "heartbeat fields") }
            self = .heartbeat(sequence: s, time: t)
        case (.data, 2):
            guard let b = fields[1].bytes else { throw WireError(.malformedMessage, "data must be bytes") }
            self = .data(b)
        case (.close, 3):
            guard let c = fields[1].text, let r = fields[2].text else { throw WireError(.malformedMessage, "close fields") }
            self = .close(code: c, reason: r)
        default:
            throw WireError(.malformedMessage, "\(tag) with \(fields.count - 1) fields")
        }
    }
}
