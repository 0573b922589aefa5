/// Reads big-endian numbers and names from a DNS message, never past its end. Every read that would leave the
/// message throws `tooShort`; names follow compression pointers only strictly backwards and at most
/// `DNSMessage.maxPointerJumps` times, and never grow past 255 bytes.
struct DNSMessageReader {
    let bytes: [UInt8]
    private(set) var offset: Int

    init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var isAtEnd: Bool { offset >= bytes.count }
    var remaining: Int { max(0, bytes.count - offset) }

    mutating func readUInt8() throws(DNSError) -> UInt8 {
        guard offset < bytes.count else { throw Self.endOfMessage(at: offset) }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func readUInt16() throws(DNSError) -> UInt16 {
        guard remaining >= 2 else { throw Self.endOfMessage(at: offset) }
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func readUInt32() throws(DNSError) -> UInt32 {
        guard remaining >= 4 else { throw Self.endOfMessage(at: offset) }
        defer { offset += 4 }
        return (UInt32(bytes[offset]) << 24) | (UInt32(bytes[offset + 1]) << 16) | (UInt32(bytes[offset + 2]) << 8)
            | UInt32(bytes[offset + 3])
    }

    mutating func readBytes(_ count: Int) throws(DNSError) -> [UInt8] {
        guard count >= 0, remaining >= count else { throw Self.endOfMessage(at: offset) }
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    mutating func skip(_ count: Int) throws(DNSError) {
        guard count >= 0, remaining >= count else { throw Self.endOfMessage(at: offset) }
        offset += count
    }

    /// Reads a possibly compressed name (RFC 1035 section 4.1.4) and leaves the offset after the name's bytes at
    /// this position (after the first pointer, if there is one).
    mutating func readName() throws(DNSError) -> DNSName {
        var labels: [[UInt8]] = []
        var wireLength = 1  // the root label
        var position = offset
        var resumeAt: Int? = nil
        var jumps = 0
        while true {
            guard position < bytes.count else { throw Self.endOfMessage(at: position) }
            let lengthByte = bytes[position]
            switch lengthByte >> 6 {
            case 0b00:
                if lengthByte == 0 {
                    offset = resumeAt ?? (position + 1)
                    return DNSName(labels: labels)
                }
                let start = position + 1
                let end = start + Int(lengthByte)
                guard end <= bytes.count else { throw Self.endOfMessage(at: position) }
                wireLength += 1 + Int(lengthByte)
                guard wireLength <= DNSName.maxWireLength else {
                    throw DNSError(.nameTooLong, "a name at offset \(offset) is longer than 255 bytes")
                }
                labels.append(Array(bytes[start..<end]))
                position = end
            case 0b11:
                guard position + 1 < bytes.count else { throw Self.endOfMessage(at: position) }
                let target = Int(lengthByte & 0x3F) << 8 | Int(bytes[position + 1])
                // Pointing strictly backwards means a pointer can only reach bytes already read; the header is
                // not a name, so nothing there is a valid target.
                guard target >= DNSMessage.headerLength, target < position else {
                    throw DNSError(.badPointer, "the pointer at offset \(position) points to \(target)")
                }
                jumps += 1
                // Labels between a target and the next pointer can still form a cycle; the cap ends it.
                guard jumps <= DNSMessage.maxPointerJumps else {
                    throw DNSError(.pointerLoop, "a name follows more than \(DNSMessage.maxPointerJumps) pointers")
                }
                if resumeAt == nil { resumeAt = position + 2 }
                position = target
            default:
                throw DNSError(.badLabelType, "the label type 0x\(String(lengthByte, radix: 16)) at offset \(position)")
            }
        }
    }

    private static func endOfMessage(at offset: Int) -> DNSError {
        DNSError(.tooShort, "the message ends inside an item that starts at or before offset \(offset)")
    }
}
