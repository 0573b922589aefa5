import CCBOR

/// Decodes untrusted bytes into a `CBOR` value, strictly and within fixed bounds.
///
/// libcbor's streaming decoder reads one item header at a time; the builder here owns every
/// allocation, so a declared length can never reserve more than the bytes that are actually present.
/// (libcbor's `cbor_load` is never used: it allocates whatever count the input declares.)
///
/// Refused: truncated input, reserved initial bytes, declared counts larger than the bytes left,
/// nesting past `maxDepth`, more than `maxItems` items, duplicate map keys, invalid UTF-8, malformed
/// indefinite-length strings and trailing bytes. Accepted: definite and indefinite lengths, any tag.
public struct CBORDecoder: Sendable {
    /// Bounds on what one decode may consume.
    public struct Limits: Sendable, Hashable {
        /// Largest input accepted, in bytes.
        public var maxInputSize: Int
        /// Deepest nesting of arrays, maps and tags.
        public var maxDepth: Int
        /// Most items (of any kind) in one input.
        public var maxItems: Int

        public init(maxInputSize: Int = 1 << 20, maxDepth: Int = 32, maxItems: Int = 65_536) {
            self.maxInputSize = maxInputSize
            self.maxDepth = maxDepth
            self.maxItems = maxItems
        }

        /// The defaults: 1 MiB, depth 32, 65,536 items.
        public static let `default` = Limits()
    }

    /// The bounds this decoder enforces.
    public var limits: Limits

    public init(limits: Limits = .default) {
        self.limits = limits
    }

    /// Decodes exactly one CBOR item that spans all of `bytes`.
    public func decode(_ bytes: [UInt8]) throws(CBORError) -> CBOR {
        try bytes.withUnsafeBufferPointer { (buffer) throws(CBORError) -> CBOR in
            try decode(buffer)
        }
    }

    /// Decodes exactly one CBOR item that spans all of `buffer`.
    public func decode(_ buffer: UnsafeBufferPointer<UInt8>) throws(CBORError) -> CBOR {
        guard buffer.count <= limits.maxInputSize else {
            throw CBORError(.inputTooLarge, at: 0, "\(buffer.count) bytes, limit \(limits.maxInputSize)")
        }
        guard let base = buffer.baseAddress, buffer.count > 0 else { throw CBORError(.empty, at: 0) }
        var builder = Builder(limits: limits, base: base, count: buffer.count)
        return try builder.run()
    }

    /// Decodes the one CBOR item at the front of `bytes` and says how many bytes it took; the bytes after it
    /// are left for the caller. For formats that put a CBOR item before other data with no length in front
    /// (WebAuthn's authenticator data: the credential public key, then the extensions).
    public func decodePrefix(_ bytes: [UInt8]) throws(CBORError) -> (item: CBOR, length: Int) {
        try bytes.withUnsafeBufferPointer { (buffer) throws(CBORError) -> (item: CBOR, length: Int) in
            guard buffer.count <= limits.maxInputSize else {
                throw CBORError(.inputTooLarge, at: 0, "\(buffer.count) bytes, limit \(limits.maxInputSize)")
            }
            guard let base = buffer.baseAddress, buffer.count > 0 else { throw CBORError(.empty, at: 0) }
            var builder = Builder(limits: limits, base: base, count: buffer.count, allowsTrailingBytes: true)
            let item = try builder.run()
            return (item, builder.offset)
        }
    }

    /// Decodes one item with the default limits.
    public static func decode(_ bytes: [UInt8]) throws(CBORError) -> CBOR {
        try CBORDecoder().decode(bytes)
    }
}

/// What libcbor reported for one item header.
private enum Event {
    case none
    case unsigned(UInt64)
    case negative(UInt64)
    case bytes(UnsafePointer<UInt8>, Int)
    case bytesStart
    case text(UnsafePointer<UInt8>, Int)
    case textStart
    case arrayStart(Int)
    case indefiniteArrayStart
    case mapStart(Int)
    case indefiniteMapStart
    case tag(UInt64)
    case float(Double)
    case bool(Bool)
    case null
    case undefined
    case breakMarker
}

/// The callbacks' only state: the last event. libcbor calls exactly one callback per decode step.
private final class EventSink {
    var event: Event = .none
}

private func sink(_ context: UnsafeMutableRawPointer?) -> EventSink {
    Unmanaged<EventSink>.fromOpaque(context!).takeUnretainedValue()
}

nonisolated(unsafe) private var callbacks: cbor_callbacks = {
    var c = cbor_callbacks()
    c.uint8 = { ctx, v in sink(ctx).event = .unsigned(UInt64(v)) }
    c.uint16 = { ctx, v in sink(ctx).event = .unsigned(UInt64(v)) }
    c.uint32 = { ctx, v in sink(ctx).event = .unsigned(UInt64(v)) }
    c.uint64 = { ctx, v in sink(ctx).event = .unsigned(v) }
    c.negint8 = { ctx, v in sink(ctx).event = .negative(UInt64(v)) }
    c.negint16 = { ctx, v in sink(ctx).event = .negative(UInt64(v)) }
    c.negint32 = { ctx, v in sink(ctx).event = .negative(UInt64(v)) }
    c.negint64 = { ctx, v in sink(ctx).event = .negative(v) }
    // libcbor's header swaps the comments on these two pairs: `byte_string` is a definite string.
    c.byte_string = { ctx, p, n in sink(ctx).event = .bytes(p!, n) }
    c.byte_string_start = { ctx in sink(ctx).event = .bytesStart }
    c.string = { ctx, p, n in sink(ctx).event = .text(p!, n) }
    c.string_start = { ctx in sink(ctx).event = .textStart }
    c.array_start = { ctx, n in sink(ctx).event = .arrayStart(n) }
    c.indef_array_start = { ctx in sink(ctx).event = .indefiniteArrayStart }
    c.map_start = { ctx, n in sink(ctx).event = .mapStart(n) }
    c.indef_map_start = { ctx in sink(ctx).event = .indefiniteMapStart }
    c.tag = { ctx, v in sink(ctx).event = .tag(v) }
    c.float2 = { ctx, v in sink(ctx).event = .float(Double(v)) }
    c.float4 = { ctx, v in sink(ctx).event = .float(Double(v)) }
    c.float8 = { ctx, v in sink(ctx).event = .float(v) }
    c.undefined = { ctx in sink(ctx).event = .undefined }
    c.null = { ctx in sink(ctx).event = .null }
    c.boolean = { ctx, v in sink(ctx).event = .bool(v) }
    c.indef_break = { ctx in sink(ctx).event = .breakMarker }
    return c
}()

/// An open container waiting for its children. A class, so that appending a child mutates in place
/// (an enum payload would be copied on every append, making long arrays quadratic).
private final class Frame {
    enum Kind {
        case array, map, tag(UInt64), byteChunks, textChunks
    }
    let kind: Kind
    /// Children still expected; nil for indefinite length.
    var remaining: Int?
    var items: [CBOR] = []
    var entries: [CBORMap.Entry] = []
    var pendingKey: CBOR?
    var keys: Set<CBOR>?
    var chunks: [UInt8] = []

    init(_ kind: Kind, remaining: Int? = nil) {
        self.kind = kind
        self.remaining = remaining
    }
}

/// Maps with more entries than this detect duplicate keys with a set instead of a linear scan.
private let linearKeyScanLimit = 16

private struct Builder {
    let limits: CBORDecoder.Limits
    let base: UnsafePointer<UInt8>
    let count: Int
    var offset = 0
    var items = 0
    var stack: [Frame] = []
    /// Whether bytes may follow the item (`decodePrefix`) or are refused (`decode`).
    let allowsTrailingBytes: Bool
    let sinkObject = EventSink()

    init(limits: CBORDecoder.Limits, base: UnsafePointer<UInt8>, count: Int, allowsTrailingBytes: Bool = false) {
        self.limits = limits
        self.base = base
        self.count = count
        self.allowsTrailingBytes = allowsTrailingBytes
    }

    mutating func run() throws(CBORError) -> CBOR {
        while true {
            guard offset < count else {
                throw CBORError(.truncated, at: offset, "input ends inside an item")
            }
            let start = offset
            let event = try nextEvent()
            items += 1
            guard items <= limits.maxItems else {
                throw CBORError(.tooManyItems, at: start, "limit \(limits.maxItems)")
            }
            if let value = try handle(event, at: start), let done = try complete(value, at: start) {
                guard offset == count || allowsTrailingBytes else {
                    throw CBORError(.trailingBytes, at: offset, "\(count - offset) bytes after the item")
                }
                return done
            }
        }
    }

    /// Reads one item header (and, for definite strings, its content) at `offset`.
    mutating func nextEvent() throws(CBORError) -> Event {
        let initial = base[offset]
        // libcbor 0.8 rejects the one-byte tags 6...20 as "unassigned", but tag 18 is COSE_Sign1.
        if (0xC6...0xD4).contains(initial) {
            offset += 1
            return .tag(UInt64(initial - 0xC0))
        }
        sinkObject.event = .none
        let context = Unmanaged.passUnretained(sinkObject).toOpaque()
        let result = withUnsafePointer(to: &callbacks) { cb in
            cbor_stream_decode(base + offset, count - offset, cb, context)
        }
        switch result.status {
        case CBOR_DECODER_FINISHED:
            break
        case CBOR_DECODER_NEDATA:
            throw CBORError(.truncated, at: offset, "item needs \(result.required) bytes")
        default:
            throw CBORError(.malformed, at: offset, "reserved or unassigned initial byte 0x\(hex(initial))")
        }
        let event = sinkObject.event
        guard result.read > 0, !isNone(event) else {
            throw CBORError(.malformed, at: offset, "initial byte 0x\(hex(initial))")
        }
        offset += result.read
        return event
    }

    /// Turns an event into a finished value, or opens a container and returns nil.
    mutating func handle(_ event: Event, at start: Int) throws(CBORError) -> CBOR? {
        // Inside an indefinite-length string only definite chunks of the same type, or the break, may appear.
        if let top = stack.last {
            switch (top.kind, event) {
            case (.byteChunks, .bytes(let p, let n)), (.textChunks, .text(let p, let n)):
                top.chunks.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
                return nil
            case (.byteChunks, .breakMarker):
                stack.removeLast()
                return .bytes(top.chunks)
            case (.textChunks, .breakMarker):
                stack.removeLast()
                return try .text(utf8(top.chunks, at: start))
            case (.byteChunks, _):
                throw CBORError(.malformed, at: start, "indefinite byte string holds a non-byte-string chunk")
            case (.textChunks, _):
                throw CBORError(.malformed, at: start, "indefinite text string holds a non-text chunk")
            default:
                break
            }
        }

        switch event {
        case .none:
            throw CBORError(.malformed, at: start)
        case .unsigned(let v): return .unsigned(v)
        case .negative(let v): return .negative(v)
        case .bytes(let p, let n): return .bytes(Array(UnsafeBufferPointer(start: p, count: n)))
        case .text(let p, let n): return try .text(utf8(Array(UnsafeBufferPointer(start: p, count: n)), at: start))
        case .float(let v): return .float(v)
        case .bool(let v): return .bool(v)
        case .null: return .null
        case .undefined: return .undefined
        case .bytesStart:
            try push(Frame(.byteChunks), at: start)
            return nil
        case .textStart:
            try push(Frame(.textChunks), at: start)
            return nil
        case .tag(let t):
            try push(Frame(.tag(t)), at: start)
            return nil
        case .arrayStart(let n):
            // Every element takes at least one byte. libcbor passes the count as size_t, which Swift sees as Int:
            // a declared count above Int.max arrives negative.
            guard n >= 0, n <= count - offset else {
                throw CBORError(.declaredLengthTooLarge, at: start, "array declares \(n) items, \(count - offset) bytes left")
            }
            if n == 0 { return .array([]) }
            let frame = Frame(.array, remaining: n)
            frame.items.reserveCapacity(min(n, 64))
            try push(frame, at: start)
            return nil
        case .indefiniteArrayStart:
            try push(Frame(.array), at: start)
            return nil
        case .mapStart(let n):
            // Every entry takes at least two bytes (and, as above, a count above Int.max arrives negative).
            guard n >= 0, n <= (count - offset) / 2 else {
                throw CBORError(.declaredLengthTooLarge, at: start, "map declares \(n) entries, \(count - offset) bytes left")
            }
            if n == 0 { return .map(CBORMap()) }
            let frame = Frame(.map, remaining: n)
            frame.entries.reserveCapacity(min(n, 64))
            try push(frame, at: start)
            return nil
        case .indefiniteMapStart:
            try push(Frame(.map), at: start)
            return nil
        case .breakMarker:
            guard let top = stack.last, top.remaining == nil else {
                throw CBORError(.malformed, at: start, "break outside an indefinite-length item")
            }
            switch top.kind {
            case .array:
                stack.removeLast()
                return .array(top.items)
            case .map:
                guard top.pendingKey == nil else {
                    throw CBORError(.malformed, at: start, "indefinite map ends after a key with no value")
                }
                stack.removeLast()
                return .map(CBORMap(uniqueEntries: top.entries))
            default:
                throw CBORError(.malformed, at: start, "break outside an indefinite-length item")
            }
        }
    }

    /// Hands a finished value to the innermost open container; returns the top-level value when done.
    mutating func complete(_ value: CBOR, at start: Int) throws(CBORError) -> CBOR? {
        var value = value
        while let frame = stack.last {
            switch frame.kind {
            case .tag(let t):
                stack.removeLast()
                value = .tagged(t, value)
                continue
            case .array:
                frame.items.append(value)
            case .map:
                guard let key = frame.pendingKey else {
                    frame.pendingKey = value
                    return nil
                }
                frame.pendingKey = nil
                if frame.entries.count >= linearKeyScanLimit {
                    if frame.keys == nil { frame.keys = Set(frame.entries.map(\.key)) }
                    guard frame.keys!.insert(key).inserted else {
                        throw CBORError(.duplicateMapKey, at: start, "key \(key) repeated")
                    }
                } else if frame.entries.contains(where: { $0.key == key }) {
                    throw CBORError(.duplicateMapKey, at: start, "key \(key) repeated")
                }
                frame.entries.append(CBORMap.Entry(key: key, value: value))
            case .byteChunks, .textChunks:
                // handle() consumes every event while a string is open, so a value never lands here.
                throw CBORError(.malformed, at: start, "item inside an indefinite-length string")
            }
            guard let remaining = frame.remaining else { return nil }
            if remaining > 1 {
                frame.remaining = remaining - 1
                return nil
            }
            stack.removeLast()
            if case .array = frame.kind {
                value = .array(frame.items)
            } else {
                value = .map(CBORMap(uniqueEntries: frame.entries))
            }
        }
        return value
    }

    mutating func push(_ frame: Frame, at start: Int) throws(CBORError) {
        guard stack.count < limits.maxDepth else {
            throw CBORError(.tooDeep, at: start, "nesting deeper than \(limits.maxDepth)")
        }
        stack.append(frame)
    }

    func utf8(_ bytes: [UInt8], at start: Int) throws(CBORError) -> String {
        guard let s = String(validating: bytes, as: UTF8.self) else {
            throw CBORError(.invalidUTF8, at: start)
        }
        return s
    }
}

private func isNone(_ event: Event) -> Bool {
    if case .none = event { return true }
    return false
}

func hex(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
}
