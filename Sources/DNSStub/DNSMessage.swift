/// Builds DNS queries and reads the responses to them (RFC 1035, RFC 3596 for AAAA, RFC 2308 for negative
/// answers). Pure functions over bytes: no I/O, no clock.
///
/// A response is accepted only when it is a well-formed answer to the exact query: same id, QR set, opcode QUERY,
/// TC clear, one question echoing our name (in any case), type and class IN, counts that account for every byte,
/// compression pointers that point strictly backwards, and address data of the right length. Anything else throws
/// a `DNSError` naming the rule.
public enum DNSMessage {
    /// Bytes in the fixed header.
    public static let headerLength = 12
    /// The largest message there can be; its length must fit the 16-bit prefix used over TCP.
    public static let maxMessageLength = 65535
    /// The most compression pointers one name may follow. Real names need a handful.
    public static let maxPointerJumps = 64
    /// The most CNAME links followed from the question's name to its addresses.
    public static let maxCNAMEHops = 8
    /// The largest TTL (RFC 2181 section 8); record TTLs with the top bit set count as 0.
    public static let maxTTL: UInt32 = 0x7FFF_FFFF
    /// The TTL of an answer without addresses when the authority section has no SOA for it. RFC 2308 section 5
    /// says such answers should not be cached, hence 0; a cache applies its own minimum.
    public static let defaultNegativeTTL: UInt32 = 0

    /// Builds a standard query with recursion desired (RD=1) for one name, type and class IN.
    ///
    /// The name must be a host name: ASCII letters, digits, hyphens and underscores in labels of 1 to 63 bytes, at
    /// most 253 characters, optionally ending in a dot. It is sent as written; no search list is applied.
    public static func query(id: UInt16, name: String, type: DNSRecordType) throws(DNSError) -> [UInt8] {
        let qname = try DNSName(validating: name)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(headerLength + qname.wireLength + 4)
        append(id, to: &bytes)
        append(0x0100, to: &bytes)  // QR=0, opcode QUERY, RD=1
        append(1, to: &bytes)  // QDCOUNT
        append(0, to: &bytes)  // ANCOUNT
        append(0, to: &bytes)  // NSCOUNT
        append(0, to: &bytes)  // ARCOUNT
        qname.encode(into: &bytes)
        append(type.rawValue, to: &bytes)
        append(classIN, to: &bytes)
        return bytes
    }

    /// Reads the response to `query(id: expectedID, name: name, type: type)`.
    ///
    /// Returns the addresses of `name`, following CNAME records in the answer section (at most `maxCNAMEHops`),
    /// and ignoring records of other names, types and classes. The TTL is the smallest among the records used.
    /// NXDOMAIN and NODATA return an answer with no addresses, whose TTL is the smaller of the SOA record's TTL
    /// and its MINIMUM field when the authority section has an SOA for the name's zone, `defaultNegativeTTL`
    /// otherwise (RFC 2308 section 5), and no more than the TTL of any CNAME followed.
    ///
    /// Throws `truncated` for TC=1 (there is no TCP fallback), and `formatError`, `serverFailure`,
    /// `notImplemented`, `refused` or `unexpectedResponseCode` for the other RCODEs. Such error responses may
    /// omit the question section; any question they carry must still be ours.
    public static func parseResponse(
        _ bytes: [UInt8],
        expectedID: UInt16,
        name: String,
        type: DNSRecordType
    ) throws(DNSError) -> DNSAnswer {
        let qname = try DNSName(validating: name)
        let header = try decodeHeader(bytes)
        guard header.id == expectedID else {
            throw DNSError(.idMismatch, "the response has id \(header.id), the query had \(expectedID)")
        }
        guard header.isResponse else { throw DNSError(.notAResponse, "the QR bit is 0") }
        guard header.opcode == 0 else { throw DNSError(.unexpectedOpcode, "the opcode is \(header.opcode)") }
        // A truncated message may legitimately stop mid-record, so this is checked before the sections are read.
        guard !header.isTruncated else {
            throw DNSError(.truncated, "the TC bit is set; the answer needs TCP, which this resolver does not use")
        }
        let message = try decodeSections(bytes, header: header)
        let rcode = header.rcode
        let isError = rcode != DNSResponseCode.noError.rawValue && rcode != DNSResponseCode.nameError.rawValue
        if !(isError && message.questions.isEmpty) {
            try checkQuestion(message.questions, name: qname, type: type)
        }
        if isError { throw responseCodeError(rcode) }
        return try answer(in: message, name: qname, type: type)
    }

    private static func checkQuestion(_ questions: [Question], name: DNSName, type: DNSRecordType) throws(DNSError) {
        guard questions.count == 1 else {
            throw DNSError(.questionMismatch, "the response has \(questions.count) questions, not 1")
        }
        let question = questions[0]
        guard question.name.matches(name), question.type == type.rawValue, question.recordClass == classIN else {
            throw DNSError(
                .questionMismatch,
                "the response asks \(question.name) type \(question.type) class \(question.recordClass), "
                    + "not \(name) \(type) IN"
            )
        }
    }

    private static func responseCodeError(_ rcode: UInt8) -> DNSError {
        switch DNSResponseCode(rawValue: rcode) {
        case .formatError: DNSError(.formatError, "the server could not read the query (FORMERR)")
        case .serverFailure: DNSError(.serverFailure, "the server failed to answer (SERVFAIL)")
        case .notImplemented: DNSError(.notImplemented, "the server does not support the query (NOTIMP)")
        case .refused: DNSError(.refused, "the server refused to answer (REFUSED)")
        case .noError, .nameError, nil: DNSError(.unexpectedResponseCode, "the response code is \(rcode)")
        }
    }

    /// Follows the CNAME chain from `name` and collects the addresses of its end.
    private static func answer(
        in message: DecodedMessage,
        name: DNSName,
        type: DNSRecordType
    ) throws(DNSError) -> DNSAnswer {
        let rcode: DNSResponseCode = message.header.rcode == DNSResponseCode.nameError.rawValue ? .nameError : .noError
        var current = name
        var ttl = maxTTL
        var hops = 0
        while true {
            let owned = message.answers.filter { $0.recordClass == classIN && $0.name.matches(current) }
            // NXDOMAIN is about the end of the chain; address records beside it contradict it and are not used.
            if rcode == .noError {
                var addresses: [DNSAddress] = []
                var addressTTL = maxTTL
                for record in owned where record.type == type.rawValue {
                    guard case .address(let bytes) = record.data, let address = DNSAddress(bytes: bytes) else {
                        continue
                    }
                    addresses.append(address)
                    addressTTL = min(addressTTL, record.ttl)
                }
                if !addresses.isEmpty {
                    return DNSAnswer(addresses: addresses, ttl: min(ttl, addressTTL), rcode: .noError)
                }
            }
            var target: DNSName? = nil
            var linkTTL = maxTTL
            for record in owned {
                guard case .canonicalName(let next) = record.data else { continue }
                if let known = target, !known.matches(next) {
                    throw DNSError(.conflictingCNAME, "\(current) has CNAMEs to \(known) and \(next)")
                }
                target = next
                linkTTL = min(linkTTL, record.ttl)
            }
            guard let next = target else { break }
            hops += 1
            guard hops <= maxCNAMEHops else {
                throw DNSError(.cnameChainTooLong, "\(name) has more than \(maxCNAMEHops) CNAME links")
            }
            ttl = min(ttl, linkTTL)
            current = next
        }
        return DNSAnswer(addresses: [], ttl: min(ttl, negativeTTL(in: message, for: current)), rcode: rcode)
    }

    /// RFC 2308 section 5: the negative TTL is the smaller of the SOA record's TTL and its MINIMUM field. Only an
    /// SOA of a zone that contains `name` speaks for it.
    private static func negativeTTL(in message: DecodedMessage, for name: DNSName) -> UInt32 {
        var ttl: UInt32? = nil
        for record in message.authority where record.recordClass == classIN && name.isWithin(record.name) {
            guard case .soa(let minimum) = record.data else { continue }
            ttl = min(ttl ?? maxTTL, record.ttl, minimum > maxTTL ? 0 : minimum)
        }
        return ttl ?? defaultNegativeTTL
    }

    private static func append(_ value: UInt16, to bytes: inout [UInt8]) {
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(value & 0xFF))
    }
}
