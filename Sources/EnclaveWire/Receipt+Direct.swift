import CBOR

extension Receipt {
    /// The map keys in the order `encoded` writes them, each as its CBOR text item.
    private static let keys: [[UInt8]] = ["v", "boot", "seq", "prev", "job", "tenant", "op", "req", "res", "status", "time", "troot", "by"].map {
        CBOREncoder.encode(.text($0))
    }

    /// The receipt `bytes` hold when they are exactly what `encoded` writes for a valid receipt (keys in their order,
    /// shortest heads, every bound and name rule met); nil for anything else. Whatever this accepts, the general
    /// decoder accepts too, with the same value; it is only faster.
    static func direct(_ bytes: [UInt8]) -> Receipt? {
        guard bytes.count <= maxSize else { return nil }
        var r = DeterministicReader(bytes)
        guard let pairs = r.head(major: 5), pairs >= 11, pairs <= 13 else { return nil }
        guard r.key(keys[0]), r.head(major: 0) == version, r.key(keys[1]), let boot = r.hash(), r.key(keys[2]), let sequence = r.head(major: 0),
            sequence >= 1, r.key(keys[3]), let previous = r.hash(), r.key(keys[4]), let job = r.text(max: RequestLimits.maxRequestIDBytes),
            r.key(keys[5]), let tenant = r.text(max: RequestLimits.maxNameBytes), r.key(keys[6]), let op = r.text(max: RequestLimits.maxNameBytes),
            r.key(keys[7]), let request = r.hash(), r.key(keys[8]), let result = r.hash(), r.key(keys[9]),
            let status = r.text(max: RequestLimits.maxNameBytes), r.key(keys[10]), let time = r.head(major: 0)
        else { return nil }
        var extra = pairs - 11
        var tenantRoot: [UInt8]?
        var approvers: [[UInt8]]?
        if extra > 0, r.key(keys[11]) {
            guard let root = r.hash() else { return nil }
            tenantRoot = root
            extra -= 1
        }
        if extra > 0 {
            guard r.key(keys[12]), let count = r.head(major: 4), count <= UInt64(SealedRequest.maxApprovals) else { return nil }
            var list: [[UInt8]] = []
            for _ in 0..<count {
                guard let id = r.hash() else { return nil }
                list.append(id)
            }
            approvers = list
            extra -= 1
        }
        guard extra == 0, r.atEnd, RequestLimits.isValidRequestID(job), RequestLimits.isValidName(tenant), RequestLimits.isValidName(op),
            RequestLimits.isValidStatus(status)
        else { return nil }
        return Receipt(
            boot: boot, sequence: sequence, previous: previous, requestID: job, tenant: tenant, operation: op, requestHash: request,
            resultHash: result, status: status, time: time, tenantRoot: tenantRoot, approvers: approvers)
    }
}

/// Reads deterministic CBOR (shortest heads, definite lengths) item by item; every read is nil on anything else.
struct DeterministicReader {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { position == bytes.count }

    /// The argument of a head of major type `major`, in its shortest form.
    mutating func head(major: UInt8) -> UInt64? {
        guard position < bytes.count, bytes[position] >> 5 == major else { return nil }
        let info = bytes[position] & 0x1F
        let width: Int
        switch info {
        case 0..<24:
            position += 1
            return UInt64(info)
        case 24: width = 1
        case 25: width = 2
        case 26: width = 4
        case 27: width = 8
        default: return nil
        }
        guard bytes.count - position > width else { return nil }
        var value: UInt64 = 0
        for i in 1...width { value = value << 8 | UInt64(bytes[position + i]) }
        let least: UInt64 = width == 1 ? 24 : 1 << (UInt64(width) * 4)
        guard value >= least else { return nil }
        position += 1 + width
        return value
    }

    /// Consumes `item` if the bytes at the position are exactly it.
    mutating func key(_ item: [UInt8]) -> Bool {
        guard bytes.count - position >= item.count else { return false }
        for i in 0..<item.count where bytes[position + i] != item[i] { return false }
        position += item.count
        return true
    }

    /// A byte string of 32 bytes.
    mutating func hash() -> [UInt8]? {
        guard bytes.count - position >= 34, bytes[position] == 0x58, bytes[position + 1] == 32 else { return nil }
        defer { position += 34 }
        return Array(bytes[position + 2..<position + 34])
    }

    /// A text string of 1 to `max` bytes (its content is judged by the caller).
    mutating func text(max: Int) -> String? {
        let start = position
        guard let n = head(major: 3), n >= 1, n <= UInt64(max), bytes.count - position >= Int(n) else {
            position = start
            return nil
        }
        defer { position += Int(n) }
        return String(decoding: bytes[position..<position + Int(n)], as: UTF8.self)
    }
}
