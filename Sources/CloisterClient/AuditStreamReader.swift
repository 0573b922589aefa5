import EnclaveWire
import Foundation
import NitroAttestation

/// Reads the binary form (`AuditStream`, versions 1 and 2) one record at a time from a file, with every length
/// bounded before it is read and every head in its shortest form. Structure failures are `malformedLog`; a file that
/// ends before its end record is `truncatedLog`.
public final class AuditStreamReader {
    public struct Header: Sendable {
        /// `AuditStream.format` or `AuditStream.formatVersion1`.
        public var format: String
        public var source: String
        /// Boot attestation documents by the hex of their SHA-256.
        public var boots: [String: [UInt8]]
        /// How many receipts the file says it holds (nil: not said).
        public var receipts: UInt64?
        /// The deployment log's signed checkpoint when the log was exported (nil: none, a log without a deployment).
        public var head: [UInt8]?
    }

    public let header: Header
    /// The file's size in bytes (nil: not a regular file).
    public let fileSize: Int?
    /// Receipts and batch records read so far.
    public private(set) var receipts: UInt64 = 0
    public private(set) var batches: UInt64 = 0
    private var input: ByteSource
    private var ended = false
    private let origin: ByteSource.Origin

    /// Bytes consumed so far.
    public var offset: Int { input.offset }

    public convenience init(path: String) throws(ClientError) {
        try self.init(.file(path))
    }

    /// Reads a file held in memory (for fuzzing and tests).
    public convenience init(bytes: [UInt8]) throws(ClientError) {
        try self.init(.memory(bytes))
    }

    private init(_ origin: ByteSource.Origin) throws(ClientError) {
        self.origin = origin
        input = try ByteSource(origin)
        fileSize = input.fileSize
        header = try Self.readHeader(&input)
    }

    deinit { input.close() }

    /// A reader of the same file from its start.
    public func reopened() throws(ClientError) -> AuditStreamReader { try AuditStreamReader(origin) }

    /// The next record, or nil once the end record has been read and checked (and nothing follows it).
    public func next() throws(ClientError) -> AuditRecord? {
        guard !ended else { return nil }
        guard try input.more() else {
            throw ClientError(.truncatedLog, "the file ends at byte \(input.offset) without its end record (\(receipts) receipts read)")
        }
        let at = input.offset
        let fields = try input.arrayHead(max: 16)
        guard fields >= 1 else { throw ClientError(.malformedLog, "byte \(at): a record is an array led by its kind") }
        let kind = try input.text(max: AuditStream.maxKindBytes)
        let version2 = header.format == AuditStream.format
        switch kind {
        case "batch":
            guard fields == 3 || (fields == 4 && version2) else {
                throw ClientError(.malformedLog, "byte \(at): a batch record has 3 items (4 with a log head, in \(AuditStream.format))")
            }
            let seal = try input.bytes(max: Seal.maxSize)
            let count = try input.arrayHead(max: Int(Seal.maxCount))
            guard count >= 1 else { throw ClientError(.malformedLog, "byte \(at): a batch record holds at least one receipt") }
            var entries: [AuditBatch.Entry] = []
            entries.reserveCapacity(count)
            for _ in 0..<count {
                let e = input.offset
                guard try input.arrayHead(max: 2) == 2 else { throw ClientError(.malformedLog, "byte \(e): a batch entry is [n, receipt]") }
                let index = try input.uint(below: AuditStream.maxIndex)
                entries.append(AuditBatch.Entry(index: Int64(index), receipt: try input.bytes(max: Receipt.maxSize)))
            }
            let head = fields == 4 ? try input.bytes(max: SignedReceipt.maxHead) : nil
            receipts += UInt64(count)
            batches += 1
            return .batch(AuditBatch(seal: seal, entries: entries, head: head))
        case "gap" where version2:
            guard fields == 3 else { throw ClientError(.malformedLog, "byte \(at): a gap record has 3 items") }
            let from = try input.uint(below: AuditStream.maxIndex)
            let count = try input.uint(below: AuditStream.maxIndex - from + 1)
            guard count >= 1 else { throw ClientError(.malformedLog, "byte \(at): a gap covers at least one index") }
            return .gap(from: from, count: count)
        case "end":
            guard fields == 3 else { throw ClientError(.malformedLog, "byte \(at): the end record has 3 items") }
            let total = try input.uint(below: UInt64.max)
            let batchTotal = try input.uint(below: UInt64.max)
            guard total == receipts, batchTotal == batches else {
                throw ClientError(.malformedLog, "the end record counts \(total) receipts in \(batchTotal) batches; the file holds \(receipts) in \(batches)")
            }
            if let said = header.receipts, said != receipts {
                throw ClientError(.malformedLog, "the header says \(said) receipts; the file holds \(receipts)")
            }
            guard try !input.more() else { throw ClientError(.malformedLog, "trailing bytes after the end record, at byte \(input.offset)") }
            ended = true
            return nil
        default:
            throw ClientError(.malformedLog, "byte \(at): unknown record kind \"\(kind.prefix(32))\" (\(header.format) has batch\(version2 ? ", gap" : "") and end)")
        }
    }

    private static func readHeader(_ input: inout ByteSource) throws(ClientError) -> Header {
        guard try input.more() else { throw ClientError(.truncatedLog, "the file is empty") }
        let pairs = try input.mapHead(max: 8)
        var seen: [String] = []
        var header = Header(format: "", source: "", boots: [:])
        for _ in 0..<pairs {
            let key = try input.text(max: 16)
            // Keys once each, in the documented order.
            let order = ["format", "source", "receipts", "head", "boots"]
            guard let rank = order.firstIndex(of: key), seen.allSatisfy({ order.firstIndex(of: $0)! < rank }), key == "format" || !seen.isEmpty
            else {
                throw ClientError(.malformedLog, "header: unknown, repeated or misplaced key \"\(key)\"")
            }
            seen.append(key)
            switch key {
            case "format":
                header.format = try input.text(max: 64)
                guard [AuditStream.format, AuditStream.formatVersion1].contains(header.format) else {
                    throw ClientError(.malformedLog, "header: format \"\(header.format)\" is not \"\(AuditStream.format)\"")
                }
            case "source": header.source = try input.text(max: AuditStream.maxSourceBytes)
            case "receipts": header.receipts = try input.uint(below: AuditStream.maxIndex)
            case "head":
                guard header.format == AuditStream.format else { throw ClientError(.malformedLog, "header: \(header.format) has no head") }
                header.head = try input.bytes(max: SignedReceipt.maxHead)
            default:
                let count = try input.arrayHead(max: AuditStream.maxBoots)
                for _ in 0..<count {
                    let document = try input.bytes(max: AttestationVerifier.maxDocumentSize)
                    let hex = Hex.encode(SHA.sha256(document))
                    guard header.boots[hex] == nil else { throw ClientError(.malformedLog, "header: boot \(hex.prefix(16))… filed twice") }
                    header.boots[hex] = document
                }
            }
        }
        guard seen.contains("format"), seen.contains("boots") else { throw ClientError(.malformedLog, "header: needs \"format\" and \"boots\"") }
        return header
    }
}

/// A file read through a buffer, as CBOR heads and strings.
struct ByteSource {
    private var fd: Int32
    private var buffer: [UInt8]
    private var position = 0
    private var end = 0
    private var base = 0
    private var eof = false
    let fileSize: Int?
    let path: String

    var offset: Int { base + position }

    /// Where the bytes come from.
    enum Origin {
        case file(String)
        case memory([UInt8])
    }

    init(_ origin: Origin) throws(ClientError) {
        switch origin {
        case .file(let path):
            self.path = path
            fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw ClientError(.malformedLog, "cannot open \(path): errno \(errno)") }
            var st = stat()
            fileSize = fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG ? Int(st.st_size) : nil
            buffer = [UInt8](repeating: 0, count: 1 << 20)
        case .memory(let bytes):
            path = "(memory)"
            fd = -1
            fileSize = bytes.count
            buffer = bytes
            end = bytes.count
            eof = true
        }
    }

    mutating func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    /// Whether any byte is left.
    mutating func more() throws(ClientError) -> Bool { try fill(1) }

    /// Makes `n` bytes available from `position`; false at end of file.
    private mutating func fill(_ n: Int) throws(ClientError) -> Bool {
        if end - position >= n { return true }
        if position > 0 {
            buffer.withUnsafeMutableBytes { b in
                if end > position { memmove(b.baseAddress!, b.baseAddress! + position, end - position) }
            }
            base += position
            end -= position
            position = 0
        }
        if n > buffer.count { buffer += [UInt8](repeating: 0, count: n - buffer.count) }
        while end < n && !eof {
            let got = buffer.withUnsafeMutableBytes { b in read(fd, b.baseAddress! + end, b.count - end) }
            guard got >= 0 else { throw ClientError(.malformedLog, "cannot read \(path): errno \(errno)") }
            if got == 0 { eof = true }
            end += got
        }
        return end - position >= n
    }

    private mutating func need(_ n: Int) throws(ClientError) {
        guard try fill(n) else { throw ClientError(.truncatedLog, "the file ends inside a record, at byte \(base + end)") }
    }

    /// One head: major type and argument, in shortest form, definite.
    mutating func head() throws(ClientError) -> (major: UInt8, argument: UInt64) {
        try need(1)
        let at = offset
        let initial = buffer[position]
        let info = initial & 0x1F
        let width: Int
        switch info {
        case 0..<24: width = 0
        case 24: width = 1
        case 25: width = 2
        case 26: width = 4
        case 27: width = 8
        default: throw ClientError(.malformedLog, "byte \(at): indefinite or reserved CBOR head")
        }
        try need(1 + width)
        var argument = UInt64(width == 0 ? info : 0)
        for i in 0..<width { argument = argument << 8 | UInt64(buffer[position + 1 + i]) }
        let shortest: Bool
        switch width {
        case 1: shortest = argument >= 24
        case 2: shortest = argument > 0xFF
        case 4: shortest = argument > 0xFFFF
        case 8: shortest = argument > 0xFFFF_FFFF
        default: shortest = true
        }
        guard shortest else { throw ClientError(.malformedLog, "byte \(at): CBOR head not in its shortest form") }
        position += 1 + width
        return (initial >> 5, argument)
    }

    private mutating func expect(_ major: UInt8, max: UInt64, what: String) throws(ClientError) -> Int {
        let at = offset
        let (m, n) = try head()
        guard m == major else { throw ClientError(.malformedLog, "byte \(at): expected \(what)") }
        guard n <= max else { throw ClientError(.malformedLog, "byte \(at): \(what) of length \(n), more than \(max)") }
        return Int(n)
    }

    mutating func arrayHead(max: Int) throws(ClientError) -> Int { try expect(4, max: UInt64(max), what: "an array") }
    mutating func mapHead(max: Int) throws(ClientError) -> Int { try expect(5, max: UInt64(max), what: "a map") }

    mutating func uint(below limit: UInt64) throws(ClientError) -> UInt64 {
        let at = offset
        let (m, n) = try head()
        guard m == 0, n < limit else { throw ClientError(.malformedLog, "byte \(at): expected an unsigned integer below \(limit)") }
        return n
    }

    mutating func bytes(max: Int) throws(ClientError) -> [UInt8] {
        let n = try expect(2, max: UInt64(max), what: "a byte string")
        try need(n)
        defer { position += n }
        return Array(buffer[position..<position + n])
    }

    mutating func text(max: Int) throws(ClientError) -> String {
        let at = offset
        let n = try expect(3, max: UInt64(max), what: "a text string")
        try need(n)
        defer { position += n }
        guard let s = String(validating: buffer[position..<position + n], as: UTF8.self) else {
            throw ClientError(.malformedLog, "byte \(at): text that is not UTF-8")
        }
        return s
    }
}
