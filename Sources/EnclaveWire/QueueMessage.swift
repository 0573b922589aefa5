import CBOR

/// One job as the host leases it to the enclave.
public struct QueueJob: Sendable, Hashable {
    /// The host's job number (the lease is for this job).
    public var id: UInt64
    public var requestID: String
    public var tenant: String
    public var operation: String
    public var body: [UInt8]
    /// 1 on the first lease; more when an earlier lease ran out (the enclave died, or was too slow).
    public var attempt: UInt32

    public init(id: UInt64, requestID: String, tenant: String, operation: String, body: [UInt8], attempt: UInt32) {
        self.id = id
        self.requestID = requestID
        self.tenant = tenant
        self.operation = operation
        self.body = body
        self.attempt = attempt
    }
}

/// One finished job as the enclave returns it: the signed response for the client and the signed receipt for
/// the log. The host stores both as they are; `sequence` and `status` are copies for its indexes and metrics.
public struct QueueResult: Sendable, Hashable {
    public var jobID: UInt64
    public var sequence: UInt64
    public var status: String
    public var response: [UInt8]
    public var receipt: [UInt8]

    public init(jobID: UInt64, sequence: UInt64, status: String, response: [UInt8], receipt: [UInt8]) {
        self.jobID = jobID
        self.sequence = sequence
        self.status = status
        self.response = response
        self.receipt = receipt
    }
}

/// The pull protocol of the `queue` channel, one message per `data` frame. The enclave asks (`pull`), the host
/// answers with work (`work`, possibly empty when the wait ran out), the enclave returns `results` and the host
/// acknowledges them once they are on disk (`ack`). Attestation requests from clients ride on `work`; the
/// enclave answers each with `attestation` or `attestationFailed`. The host never sends work unasked.
public enum QueueMessage: Sendable, Hashable {
    /// Enclave → host: up to `max` jobs, waiting up to `waitMs` for the first.
    case pull(max: UInt32, waitMs: UInt32)
    /// Host → enclave: leased jobs and pending attestation requests (id, nonce).
    case work(jobs: [QueueJob], attestations: [AttestationRequest])
    /// Enclave → host: results of one batch of `boot`; the host acknowledges `batch`.
    case results(batch: UInt64, boot: [UInt8], items: [QueueResult])
    /// Host → enclave: the results of `batch` are durable.
    case ack(batch: UInt64)
    /// Enclave → host: the document for attestation request `id`.
    case attestation(id: UInt64, document: [UInt8])
    /// Enclave → host: attestation request `id` could not be served.
    case attestationFailed(id: UInt64, reason: String)

    /// A client's request for a fresh document with its nonce.
    public struct AttestationRequest: Sendable, Hashable {
        public var id: UInt64
        public var nonce: [UInt8]
        public init(id: UInt64, nonce: [UInt8]) {
            self.id = id
            self.nonce = nonce
        }
    }

    /// Most jobs (or results) in one message.
    public static let maxBatch = 1024
    /// Longest nonce (the secure module's limit).
    public static let maxNonce = 512

    enum Tag: UInt64 { case pull = 0, work = 1, results = 2, ack = 3, attestation = 4, attestationFailed = 5 }

    public var encoded: [UInt8] {
        let item: CBOR
        switch self {
        case .pull(let max, let wait): item = [.unsigned(Tag.pull.rawValue), .unsigned(UInt64(max)), .unsigned(UInt64(wait))]
        case .work(let jobs, let attestations):
            item = [
                .unsigned(Tag.work.rawValue),
                .array(jobs.map { j in
                    [.unsigned(j.id), .text(j.requestID), .text(j.tenant), .text(j.operation), .bytes(j.body), .unsigned(UInt64(j.attempt))]
                }),
                .array(attestations.map { [.unsigned($0.id), .bytes($0.nonce)] }),
            ]
        case .results(let batch, let boot, let items):
            item = [
                .unsigned(Tag.results.rawValue), .unsigned(batch), .bytes(boot),
                .array(items.map { r in [.unsigned(r.jobID), .unsigned(r.sequence), .text(r.status), .bytes(r.response), .bytes(r.receipt)] }),
            ]
        case .ack(let batch): item = [.unsigned(Tag.ack.rawValue), .unsigned(batch)]
        case .attestation(let id, let document): item = [.unsigned(Tag.attestation.rawValue), .unsigned(id), .bytes(document)]
        case .attestationFailed(let id, let reason): item = [.unsigned(Tag.attestationFailed.rawValue), .unsigned(id), .text(reason)]
        }
        return CBOREncoder.encode(item)
    }

    /// Parses one message strictly: exact field counts and types, names and ids within `RequestLimits`.
    public init(encoded bytes: [UInt8], maxSize: Int = WireFrame.defaultMaxFrameSize) throws(WireError) {
        let item: CBOR
        do {
            // A full `work` is the most items: maxBatch jobs of 7 items and maxBatch attestation requests of 3.
            item = try CBORDecoder(limits: .init(maxInputSize: maxSize, maxDepth: 3, maxItems: 10 * Self.maxBatch + 16)).decode(bytes)
        } catch {
            throw WireError(.malformedCBOR, "\(error)")
        }
        guard let f = item.array, let raw = f.first?.uint64, let tag = Tag(rawValue: raw) else {
            throw WireError(.malformedMessage, "not a [type, fields...] queue message")
        }
        switch (tag, f.count) {
        case (.pull, 3):
            guard let max = f[1].uint64, max >= 1, max <= UInt64(Self.maxBatch), let wait = f[2].uint64, wait <= 600_000 else {
                throw WireError(.malformedMessage, "pull wants 1...\(Self.maxBatch) jobs and a wait of at most 600000 ms")
            }
            self = .pull(max: UInt32(max), waitMs: UInt32(wait))
        case (.work, 3):
            guard let jobs = f[1].array, jobs.count <= Self.maxBatch, let atts = f[2].array, atts.count <= Self.maxBatch else {
                throw WireError(.malformedMessage, "work fields")
            }
            var parsed: [QueueJob] = []
            for j in jobs {
                guard let a = j.array, a.count == 6, let id = a[0].uint64, let rid = a[1].text, RequestLimits.isValidRequestID(rid),
                    let tenant = a[2].text, RequestLimits.isValidName(tenant), let op = a[3].text, RequestLimits.isValidName(op),
                    let body = a[4].bytes, let attempt = a[5].uint64, attempt >= 1, attempt <= UInt64(UInt32.max)
                else { throw WireError(.malformedMessage, "a job must be [id, request id, tenant, op, body, attempt] within limits") }
                parsed.append(QueueJob(id: id, requestID: rid, tenant: tenant, operation: op, body: body, attempt: UInt32(attempt)))
            }
            var requests: [AttestationRequest] = []
            for r in atts {
                guard let a = r.array, a.count == 2, let id = a[0].uint64, let nonce = a[1].bytes, nonce.count <= Self.maxNonce else {
                    throw WireError(.malformedMessage, "an attestation request must be [id, nonce of at most \(Self.maxNonce) bytes]")
                }
                requests.append(AttestationRequest(id: id, nonce: nonce))
            }
            self = .work(jobs: parsed, attestations: requests)
        case (.results, 4):
            guard let batch = f[1].uint64, let boot = f[2].bytes, boot.count == 32, let items = f[3].array, !items.isEmpty, items.count <= Self.maxBatch else {
                throw WireError(.malformedMessage, "results fields")
            }
            var parsed: [QueueResult] = []
            for r in items {
                guard let a = r.array, a.count == 5, let id = a[0].uint64, let seq = a[1].uint64, seq >= 1, let status = a[2].text,
                    RequestLimits.isValidStatus(status), let response = a[3].bytes, response.count <= SignedResponse.maxSize,
                    let receipt = a[4].bytes, receipt.count <= SignedReceipt.maxSize
                else { throw WireError(.malformedMessage, "a result must be [job id, seq, status, response, receipt] within limits") }
                parsed.append(QueueResult(jobID: id, sequence: seq, status: status, response: response, receipt: receipt))
            }
            self = .results(batch: batch, boot: boot, items: parsed)
        case (.ack, 2):
            guard let batch = f[1].uint64 else { throw WireError(.malformedMessage, "ack fields") }
            self = .ack(batch: batch)
        case (.attestation, 3):
            guard let id = f[1].uint64, let doc = f[2].bytes, !doc.isEmpty else { throw WireError(.malformedMessage, "attestation fields") }
            self = .attestation(id: id, document: doc)
        case (.attestationFailed, 3):
            guard let id = f[1].uint64, let reason = f[2].text else { throw WireError(.malformedMessage, "attestationFailed fields") }
            self = .attestationFailed(id: id, reason: String(reason.prefix(512)))
        default:
            throw WireError(.malformedMessage, "queue message \(tag) with \(f.count - 1) fields")
        }
    }
}

/// One blob of a store listing.
public struct StoreEntry: Sendable, Hashable {
    public var key: String
    public var version: UInt64
    public var value: [UInt8]
    public init(key: String, version: UInt64, value: [UInt8]) {
        self.key = key
        self.version = version
        self.value = value
    }
}

/// The `store` channel: the enclave gets and puts opaque blobs by key; a put succeeds only when the blob's
/// current version is the one the enclave names (0: the key must not exist), so two writers cannot silently
/// overwrite each other. The host keeps what it cannot read. One message per `data` frame; `id` pairs answers
/// with requests.
public enum StoreMessage: Sendable, Hashable {
    /// Enclave → host: the blob under `key`.
    case get(id: UInt64, key: String)
    /// Enclave → host: store `value` under `key` if its version is `expectedVersion` (0: absent).
    case put(id: UInt64, key: String, expectedVersion: UInt64, value: [UInt8])
    /// Host → enclave: the blob (version 0 and empty value: there is none).
    case value(id: UInt64, version: UInt64, value: [UInt8])
    /// Host → enclave: whether the put happened, and the version now stored.
    case putResult(id: UInt64, stored: Bool, version: UInt64)
    /// Host → enclave: the request failed on the host (storage error), with a stable code.
    case failed(id: UInt64, code: String)
    /// Enclave → host: the blobs whose keys sort after `after` ("": from the first), in key order.
    case list(id: UInt64, after: String)
    /// Host → enclave: a page of blobs in key order (at most `maxListEntries`, and what fits a frame); `more`: the
    /// listing goes on after the last one.
    case entries(id: UInt64, entries: [StoreEntry], more: Bool)

    /// Longest key: 1 to 256 bytes of printable ASCII.
    public static let maxKeyBytes = 256
    /// Largest blob.
    public static let maxValueBytes = 512 * 1024

    /// Most blobs in one `entries` page.
    public static let maxListEntries = 256

    enum Tag: UInt64 { case get = 0, put = 1, value = 2, putResult = 3, failed = 4, list = 5, entries = 6 }

    public static func isValidKey(_ key: String) -> Bool {
        let u = key.utf8
        return !u.isEmpty && u.count <= maxKeyBytes && u.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    public var encoded: [UInt8] {
        let item: CBOR
        switch self {
        case .get(let id, let key): item = [.unsigned(Tag.get.rawValue), .unsigned(id), .text(key)]
        case .put(let id, let key, let v, let value): item = [.unsigned(Tag.put.rawValue), .unsigned(id), .text(key), .unsigned(v), .bytes(value)]
        case .value(let id, let v, let value): item = [.unsigned(Tag.value.rawValue), .unsigned(id), .unsigned(v), .bytes(value)]
        case .putResult(let id, let ok, let v): item = [.unsigned(Tag.putResult.rawValue), .unsigned(id), .bool(ok), .unsigned(v)]
        case .failed(let id, let code): item = [.unsigned(Tag.failed.rawValue), .unsigned(id), .text(code)]
        case .list(let id, let after): item = [.unsigned(Tag.list.rawValue), .unsigned(id), .text(after)]
        case .entries(let id, let entries, let more):
            item = [
                .unsigned(Tag.entries.rawValue), .unsigned(id), .array(entries.map { [.text($0.key), .unsigned($0.version), .bytes($0.value)] }), .bool(more),
            ]
        }
        return CBOREncoder.encode(item)
    }

    public init(encoded bytes: [UInt8]) throws(WireError) {
        let item: CBOR
        do {
            // Every message is flat and holds at most one blob, except a listing page (an array of 4 whose tag is 6).
            let page = bytes.count >= 2 && bytes[0] == 0x84 && bytes[1] == UInt8(Tag.entries.rawValue)
            let limits: CBORDecoder.Limits =
                page
                ? .init(maxInputSize: 16 << 20, maxDepth: 3, maxItems: 8 + 4 * Self.maxListEntries)
                : .init(maxInputSize: Self.maxValueBytes + 1024, maxDepth: 1, maxItems: 8)
            item = try CBORDecoder(limits: limits).decode(bytes)
        } catch {
            throw WireError(.malformedCBOR, "\(error)")
        }
        guard let f = item.array, let raw = f.first?.uint64, let tag = Tag(rawValue: raw), f.count >= 2, let id = f[1].uint64 else {
            throw WireError(.malformedMessage, "not a [type, id, fields...] store message")
        }
        switch (tag, f.count) {
        case (.get, 3):
            guard let key = f[2].text, Self.isValidKey(key) else { throw WireError(.malformedMessage, "store key must be 1 to 256 printable ASCII bytes") }
            self = .get(id: id, key: key)
        case (.put, 5):
            guard let key = f[2].text, Self.isValidKey(key) else { throw WireError(.malformedMessage, "store key must be 1 to 256 printable ASCII bytes") }
            guard let v = f[3].uint64, let value = f[4].bytes, value.count <= Self.maxValueBytes else { throw WireError(.malformedMessage, "put fields") }
            self = .put(id: id, key: key, expectedVersion: v, value: value)
        case (.value, 4):
            guard let v = f[2].uint64, let value = f[3].bytes, value.count <= Self.maxValueBytes else { throw WireError(.malformedMessage, "value fields") }
            self = .value(id: id, version: v, value: value)
        case (.putResult, 4):
            guard let ok = f[2].bool, let v = f[3].uint64 else { throw WireError(.malformedMessage, "putResult fields") }
            self = .putResult(id: id, stored: ok, version: v)
        case (.failed, 3):
            guard let code = f[2].text else { throw WireError(.malformedMessage, "failed fields") }
            self = .failed(id: id, code: String(code.prefix(64)))
        case (.list, 3):
            guard let after = f[2].text, after.isEmpty || Self.isValidKey(after) else { throw WireError(.malformedMessage, "list fields") }
            self = .list(id: id, after: after)
        case (.entries, 4):
            guard let items = f[2].array, items.count <= Self.maxListEntries, let more = f[3].bool else {
                throw WireError(.malformedMessage, "entries fields")
            }
            var entries: [StoreEntry] = []
            for item in items {
                guard let e = item.array, e.count == 3, let key = e[0].text, Self.isValidKey(key), let version = e[1].uint64, version > 0,
                    let value = e[2].bytes, value.count <= Self.maxValueBytes, entries.last.map({ $0.key < key }) ?? true
                else { throw WireError(.malformedMessage, "an entry is not [key, version, value] in ascending key order") }
                entries.append(StoreEntry(key: key, version: version, value: value))
            }
            self = .entries(id: id, entries: entries, more: more)
        default:
            throw WireError(.malformedMessage, "store message \(tag) with \(f.count - 1) fields")
        }
    }
}
