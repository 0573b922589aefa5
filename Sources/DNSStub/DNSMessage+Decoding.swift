extension DNSMessage {
    /// The header of a message.
    struct Header: Sendable {
        var id: UInt16
        var flags: UInt16
        var questionCount: Int
        var answerCount: Int
        var authorityCount: Int
        var additionalCount: Int

        var isResponse: Bool { flags & 0x8000 != 0 }
        var opcode: UInt8 { UInt8((flags >> 11) & 0x0F) }
        var isTruncated: Bool { flags & 0x0200 != 0 }
        var rcode: UInt8 { UInt8(flags & 0x000F) }
    }

    /// One entry of the question section.
    struct Question: Sendable {
        var name: DNSName
        var type: UInt16
        var recordClass: UInt16
    }

    /// The part of a record's data this resolver reads; everything else is skipped by its length.
    enum RecordData: Sendable {
        /// A or AAAA data of class IN, length already checked.
        case address([UInt8])
        /// The target of a CNAME of class IN in the answer section.
        case canonicalName(DNSName)
        /// The MINIMUM field of an SOA of class IN in the authority section (RFC 2308 section 4).
        case soa(minimum: UInt32)
        /// Data this resolver does not look into.
        case other
    }

    /// One resource record.
    struct Record: Sendable {
        var name: DNSName
        var type: UInt16
        var recordClass: UInt16
        /// The TTL with RFC 2181 section 8 applied: values with the top bit set read as 0.
        var ttl: UInt32
        var data: RecordData
    }

    /// A message whose every section was read and accounted for, but not yet matched against a query.
    struct DecodedMessage: Sendable {
        var header: Header
        var questions: [Question]
        var answers: [Record]
        var authority: [Record]
        var additional: [Record]

        /// Every record, in message order.
        var allRecords: [Record] { answers + authority + additional }
    }

    enum Section {
        case answer, authority, additional
    }

    static let classIN: UInt16 = 1
    static let typeCNAME: UInt16 = 5
    static let typeSOA: UInt16 = 6

    /// Reads the 12-byte header, after checking the message's overall size.
    static func decodeHeader(_ bytes: [UInt8]) throws(DNSError) -> Header {
        guard bytes.count <= maxMessageLength else {
            throw DNSError(.messageTooLong, "the message has \(bytes.count) bytes; at most \(maxMessageLength)")
        }
        guard bytes.count >= headerLength else {
            throw DNSError(.tooShort, "the message has \(bytes.count) bytes, less than the 12-byte header")
        }
        var reader = DNSMessageReader(bytes)
        return Header(
            id: try reader.readUInt16(),
            flags: try reader.readUInt16(),
            questionCount: Int(try reader.readUInt16()),
            answerCount: Int(try reader.readUInt16()),
            authorityCount: Int(try reader.readUInt16()),
            additionalCount: Int(try reader.readUInt16())
        )
    }

    /// Reads every section the header counts and requires the message to end exactly after the last one.
    static func decodeSections(_ bytes: [UInt8], header: Header) throws(DNSError) -> DecodedMessage {
        var reader = DNSMessageReader(bytes, offset: headerLength)
        var questions: [Question] = []
        for index in 0..<header.questionCount {
            try requireMore(reader, counted: header.questionCount, index: index, of: "questions")
            questions.append(
                Question(
                    name: try reader.readName(),
                    type: try reader.readUInt16(),
                    recordClass: try reader.readUInt16()
                )
            )
        }
        let answers = try decodeRecords(&reader, count: header.answerCount, section: .answer)
        let authority = try decodeRecords(&reader, count: header.authorityCount, section: .authority)
        let additional = try decodeRecords(&reader, count: header.additionalCount, section: .additional)
        guard reader.isAtEnd else {
            throw DNSError(.countMismatch, "\(reader.remaining) bytes follow the last record the header counts")
        }
        return DecodedMessage(
            header: header,
            questions: questions,
            answers: answers,
            authority: authority,
            additional: additional
        )
    }

    /// A message that ends exactly where an item should start was cut at a boundary or miscounted; either way the
    /// header promises more than the bytes hold.
    private static func requireMore(
        _ reader: DNSMessageReader,
        counted: Int,
        index: Int,
        of what: String
    ) throws(DNSError) {
        guard !reader.isAtEnd else {
            throw DNSError(.countMismatch, "the header counts \(counted) \(what), the message holds \(index)")
        }
    }

    private static func decodeRecords(
        _ reader: inout DNSMessageReader,
        count: Int,
        section: Section
    ) throws(DNSError) -> [Record] {
        var records: [Record] = []
        for index in 0..<count {
            try requireMore(reader, counted: count, index: index, of: "records in the \(section) section")
            records.append(try decodeRecord(&reader, section: section))
        }
        return records
    }

    private static func decodeRecord(_ reader: inout DNSMessageReader, section: Section) throws(DNSError) -> Record {
        let name = try reader.readName()
        let type = try reader.readUInt16()
        let recordClass = try reader.readUInt16()
        let rawTTL = try reader.readUInt32()
        let dataLength = Int(try reader.readUInt16())
        let dataStart = reader.offset
        guard reader.remaining >= dataLength else {
            throw DNSError(.tooShort, "the record data at offset \(dataStart) runs past the end of the message")
        }
        let dataEnd = dataStart + dataLength
        let data: RecordData
        switch (recordClass, type, section) {
        case (classIN, DNSRecordType.a.rawValue, _), (classIN, DNSRecordType.aaaa.rawValue, _):
            let expected = type == DNSRecordType.a.rawValue ? 4 : 16
            guard dataLength == expected else {
                throw DNSError(.rdataLength, "a type \(type) record has \(dataLength) bytes of data, not \(expected)")
            }
            data = .address(try reader.readBytes(dataLength))
        case (classIN, typeCNAME, .answer):
            let target = try reader.readName()
            guard reader.offset == dataEnd else {
                throw DNSError(.rdataLength, "the CNAME at offset \(dataStart) does not fill its \(dataLength) bytes")
            }
            data = .canonicalName(target)
        case (classIN, typeSOA, .authority):
            _ = try reader.readName()  // MNAME
            _ = try reader.readName()  // RNAME
            // SERIAL, REFRESH, RETRY, EXPIRE, MINIMUM: five 32-bit numbers that must end the data exactly.
            guard reader.offset + 20 == dataEnd else {
                throw DNSError(.rdataLength, "the SOA at offset \(dataStart) does not fill its \(dataLength) bytes")
            }
            try reader.skip(16)
            data = .soa(minimum: try reader.readUInt32())
        default:
            try reader.skip(dataLength)
            data = .other
        }
        // RFC 2181 section 8: a TTL with the top bit set is treated as zero.
        let ttl = rawTTL > maxTTL ? 0 : rawTTL
        return Record(name: name, type: type, recordClass: recordClass, ttl: ttl, data: data)
    }
}
