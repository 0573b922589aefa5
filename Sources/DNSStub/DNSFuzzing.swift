/// Parses arbitrary bytes as a response to an A and to an AAAA query and traps (`precondition`) when an invariant
/// breaks; thrown `DNSError`s are expected. Meant for libFuzzer and for tests; it does no I/O.
///
/// The query id is taken from the first two bytes and the name from the question section when it is a valid host
/// name, so that inputs get past the id and question checks. Invariants: no crash; a parsed answer holds only
/// addresses of the asked type and length, an rcode of NOERROR or NXDOMAIN (the latter without addresses), and a
/// TTL no larger than the largest TTL of any record in the message (or `DNSMessage.defaultNegativeTTL`); the same
/// bytes with another id throw `idMismatch`; a query built for the name decodes back to that one question.
public func fuzzDNSResponse(_ data: [UInt8]) {
    let id: UInt16 = data.count >= 2 ? UInt16(data[0]) << 8 | UInt16(data[1]) : 0
    let name = fuzzQuestionName(data) ?? "example.com"
    for type in DNSRecordType.allCases {
        let answer: DNSAnswer
        do {
            answer = try DNSMessage.parseResponse(data, expectedID: id, name: name, type: type)
        } catch {
            continue
        }
        guard let header = try? DNSMessage.decodeHeader(data),
            let message = try? DNSMessage.decodeSections(data, header: header)
        else { preconditionFailure("a parsed response does not decode") }
        for address in answer.addresses {
            switch (type, address) {
            case (.a, .v4(let bytes)): precondition(bytes.count == 4, "an A address is not 4 bytes")
            case (.aaaa, .v6(let bytes)): precondition(bytes.count == 16, "an AAAA address is not 16 bytes")
            default: preconditionFailure("an address of the wrong family")
            }
        }
        let largestTTL = message.allRecords.map(\.ttl).max() ?? 0
        precondition(answer.ttl <= max(largestTTL, DNSMessage.defaultNegativeTTL), "the TTL exceeds every record's")
        precondition(answer.ttl <= DNSMessage.maxTTL, "the TTL exceeds 2^31 - 1")
        precondition(answer.rcode == .noError || answer.rcode == .nameError, "an error rcode in an answer")
        precondition(answer.rcode == .noError || answer.addresses.isEmpty, "NXDOMAIN with addresses")
        do {
            _ = try DNSMessage.parseResponse(data, expectedID: id &+ 1, name: name, type: type)
            preconditionFailure("a response parsed under another id")
        } catch {
            precondition(error.code == .idMismatch, "another id gave \(error.code), not idMismatch")
        }
    }
    fuzzQueryRoundTrip(id: id, name: name)
}

/// Feeds arbitrary bytes to the address-literal, hosts-file and resolv.conf parsers and traps when an invariant
/// breaks: a literal prints and reads back to the same address of the right length, resolv.conf gives at most
/// `ResolvConf.maxNameservers` nameservers, and every hosts-file address has a valid length.
public func fuzzDNSConfigurationText(_ data: [UInt8]) {
    let text = String(decoding: data, as: UTF8.self)
    if let address = DNSAddress(literal: text) {
        switch address {
        case .v4(let bytes): precondition(bytes.count == 4, "an IPv4 literal is not 4 bytes")
        case .v6(let bytes): precondition(bytes.count == 16, "an IPv6 literal is not 16 bytes")
        }
        precondition(DNSAddress(literal: address.description) == address, "\(address) does not read back")
    }
    let resolvConf = ResolvConf(parsing: data)
    precondition(resolvConf.nameservers.count <= ResolvConf.maxNameservers, "too many nameservers")
    let hosts = HostsFile(parsing: data)
    for line in data.split(separator: UInt8(ascii: "\n")).prefix(4) {
        for field in line.split(separator: UInt8(ascii: " ")).dropFirst().prefix(4) {
            for address in hosts.addresses(for: String(decoding: field, as: UTF8.self)) {
                precondition(DNSAddress(bytes: address.bytes) == address, "a hosts address of a bad length")
            }
        }
    }
}

/// The first question's name as text, when it is a host name `DNSMessage.query` accepts.
private func fuzzQuestionName(_ data: [UInt8]) -> String? {
    guard let header = try? DNSMessage.decodeHeader(data), header.questionCount > 0 else { return nil }
    var reader = DNSMessageReader(data, offset: DNSMessage.headerLength)
    guard let name = try? reader.readName() else { return nil }
    let text = name.description
    return (try? DNSName(validating: text)) != nil ? text : nil
}

private func fuzzQueryRoundTrip(id: UInt16, name: String) {
    for type in DNSRecordType.allCases {
        guard let query = try? DNSMessage.query(id: id, name: name, type: type) else {
            preconditionFailure("a valid name did not make a query")
        }
        guard let header = try? DNSMessage.decodeHeader(query),
            let message = try? DNSMessage.decodeSections(query, header: header),
            let expected = try? DNSName(validating: name)
        else { preconditionFailure("a query does not decode") }
        precondition(header.id == id && !header.isResponse && message.questions.count == 1, "a bad query header")
        let question = message.questions[0]
        precondition(question.name.matches(expected) && question.type == type.rawValue, "a bad query question")
    }
}
