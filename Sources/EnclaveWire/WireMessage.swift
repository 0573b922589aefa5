import CBOR

/// Framing on a bridge connection: a 4-byte big-endian length, then that many bytes of one CBOR message.
public enum WireFrame {
    /// Largest frame payload accepted by default (1 MiB): tunnel data travels in chunks well below it.
    public static let defaultMaxFrameSize = 1 << 20
    /// Bytes in the length prefix.
    public static let headerSize = 4
}

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
    /// AWS credentials for the enclave's own calls to AWS (the instance role's, which the host fetches from IMDSv2).
    case credentials
}

/// One message of the host-enclave protocol. Each is one frame: a CBOR array whose first element is the
/// message type, followed by its fields in a fixed order.
public enum WireMessage: Sendable, Hashable {
    /// Host to enclave, the first message on every connection the host accepts: 32 fresh random bytes that the
    /// enclave's hello must sign (`ChannelProof`).
    case challenge([UInt8])
    /// The enclave's answer to the challenge, and what the connection is for: protocol version, channel kind,
    /// (on control) the boot attestation document, and the proof that the connection belongs to an attested boot.
    case hello(version: UInt64, channel: ChannelKind, attestation: [UInt8]?, proof: ChannelProof?)
    /// Liveness, either way: a sequence number and the sender's clock in milliseconds.
    case heartbeat(sequence: UInt64, time: UInt64)
    /// Opaque payload (tunnel bytes, a serialized request or result).
    case data([UInt8])
    /// The sender is closing the connection, with a stable code and a reason for logs.
    case close(code: String, reason: String)
    /// Host to enclave on an idle ingress tunnel: a client connected to the listener for enclave port `port`
    /// (`peer` is its address, for logs). Raw tunnel bytes follow this frame, unframed, in both directions.
    case open(port: UInt32, peer: String)
    /// Enclave to host on an egress connection: connect me to `host:port`.
    case connect(host: String, port: UInt16)
    /// Host to enclave on an egress connection: connected to `address`. Raw bytes follow, unframed, both ways.
    case connected(address: String)
    /// Enclave to host on the log channel: one structured log record.
    case log(LogRecord)
    /// Enclave to host on the control channel: tunnel counts and uptime, sent with each heartbeat.
    case status(EnclaveStatus)

    /// The only protocol version this build speaks (2: connections are challenged and hellos carry a proof).
    public static let protocolVersion: UInt64 = 2

    enum Tag: UInt64 {
        case hello = 0, heartbeat = 1, data = 2, close = 3, open = 4, connect = 5, connected = 6, log = 7, status = 8, challenge = 9
    }

    /// Whether raw (unframed) bytes follow this message on its connection.
    public var startsRawStream: Bool {
        switch self {
        case .open, .connected: return true
        default: return false
        }
    }

    /// The message as CBOR.
    public var cbor: CBOR {
        switch self {
        case .challenge(let nonce): return [.unsigned(Tag.challenge.rawValue), .bytes(nonce)]
        case .hello(let v, let c, let a, let p):
            return [
                .unsigned(Tag.hello.rawValue), .unsigned(v), .text(c.rawValue), a.map { .bytes($0) } ?? .null,
                p?.cbor ?? .null,
            ]
        case .heartbeat(let s, let t): return [.unsigned(Tag.heartbeat.rawValue), .unsigned(s), .unsigned(t)]
        case .data(let b): return [.unsigned(Tag.data.rawValue), .bytes(b)]
        case .close(let c, let r): return [.unsigned(Tag.close.rawValue), .text(c), .text(r)]
        case .open(let port, let peer): return [.unsigned(Tag.open.rawValue), .unsigned(UInt64(port)), .text(peer)]
        case .connect(let host, let port): return [.unsigned(Tag.connect.rawValue), .text(host), .unsigned(UInt64(port))]
        case .connected(let address): return [.unsigned(Tag.connected.rawValue), .text(address)]
        case .log(let r):
            var metadata = CBORMap()
            for (k, v) in r.metadata.sorted(by: { $0.key < $1.key }) { metadata[.text(k)] = .text(v) }
            return [.unsigned(Tag.log.rawValue), .unsigned(r.time), .text(r.level.rawValue), .text(r.message), .map(metadata)]
        case .status(let s):
            return [.unsigned(Tag.status.rawValue), .unsigned(s.idleTunnels), .unsigned(s.activeTunnels), .unsigned(s.uptimeMilliseconds)]
        }
    }

    /// Decoding bounds for one message: shallow, few items, never larger than a frame.
    static func limits(maxFrameSize: Int) -> CBORDecoder.Limits {
        CBORDecoder.Limits(maxInputSize: maxFrameSize, maxDepth: 2, maxItems: 6 + 2 * LogRecord.maxMetadataEntries)
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
        case (.challenge, 2):
            guard let nonce = fields[1].bytes, nonce.count == ChannelProof.challengeSize else {
                throw WireError(.malformedMessage, "challenge must be \(ChannelProof.challengeSize) bytes")
            }
            self = .challenge(nonce)
        case (.hello, 5):
            guard let version = fields[1].uint64, let name = fields[2].text else { throw WireError(.malformedMessage, "hello fields") }
            guard version == Self.protocolVersion else { throw WireError(.unsupportedVersion, "version \(version), this side speaks \(Self.protocolVersion)") }
            guard let channel = ChannelKind(rawValue: name) else { throw WireError(.unknownChannel, "channel \"\(name.prefix(64))\"") }
            let attestation: [UInt8]?
            switch fields[3] {
            case .null: attestation = nil
            case .bytes(let b): attestation = b
            default: throw WireError(.malformedMessage, "hello attestation must be bytes or null")
            }
            let proof: ChannelProof? = fields[4] == .null ? nil : try ChannelProof(fields[4])
            self = .hello(version: version, channel: channel, attestation: attestation, proof: proof)
        case (.heartbeat, 3):
            guard let s = fields[1].uint64, let t = fields[2].uint64 else { throw WireError(.malformedMessage, "heartbeat fields") }
            self = .heartbeat(sequence: s, time: t)
        case (.data, 2):
            guard let b = fields[1].bytes else { throw WireError(.malformedMessage, "data must be bytes") }
            self = .data(b)
        case (.close, 3):
            guard let c = fields[1].text, let r = fields[2].text else { throw WireError(.malformedMessage, "close fields") }
            self = .close(code: c, reason: r)
        case (.open, 3):
            guard let port = fields[1].uint64, port <= UInt32.max, let peer = fields[2].text else {
                throw WireError(.malformedMessage, "open fields")
            }
            self = .open(port: UInt32(port), peer: peer)
        case (.connect, 3):
            guard let host = fields[1].text, let port = fields[2].uint64, port > 0, port <= UInt16.max else {
                throw WireError(.malformedMessage, "connect fields")
            }
            self = .connect(host: host, port: UInt16(port))
        case (.connected, 2):
            guard let address = fields[1].text else { throw WireError(.malformedMessage, "connected fields") }
            self = .connected(address: address)
        case (.log, 5):
            guard let time = fields[1].uint64, let name = fields[2].text, let message = fields[3].text,
                case .map(let map) = fields[4]
            else { throw WireError(.malformedMessage, "log fields") }
            guard let level = LogRecord.Level(rawValue: name) else { throw WireError(.malformedMessage, "log level \"\(name.prefix(32))\"") }
            guard map.count <= LogRecord.maxMetadataEntries else { throw WireError(.malformedMessage, "more than \(LogRecord.maxMetadataEntries) log metadata entries") }
            var metadata: [String: String] = [:]
            for entry in map {
                guard let key = entry.key.text, let value = entry.value.text else { throw WireError(.malformedMessage, "log metadata must map text to text") }
                metadata[key] = value
            }
            self = .log(LogRecord(time: time, level: level, message: message, metadata: metadata))
        case (.status, 4):
            guard let idle = fields[1].uint64, let active = fields[2].uint64, let uptime = fields[3].uint64 else {
                throw WireError(.malformedMessage, "status fields")
            }
            self = .status(EnclaveStatus(idleTunnels: idle, activeTunnels: active, uptimeMilliseconds: uptime))
        default:
            throw WireError(.malformedMessage, "\(tag) with \(fields.count - 1) fields")
        }
    }
}
