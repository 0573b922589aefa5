/// Why a name could not be queried or resolved. One code per rule; equality compares the code only, so tests and
/// callers can name the exact failure without matching on the message.
public struct DNSError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The rule that failed.
    public enum Code: String, Sendable, CaseIterable {
        // The name asked for (query building, resolver input)
        /// The name is empty, or has an empty label (`a..b`, a leading dot, or just `.`).
        case emptyLabel
        /// A label of the name is longer than 63 bytes.
        case labelTooLong
        /// The name is longer than 253 characters as text, or 255 bytes on the wire.
        case nameTooLong
        /// The name has a byte other than an ASCII letter, digit, hyphen, underscore or dot.
        case invalidCharacter

        // Message framing
        /// The message is longer than 65535 bytes, which no DNS message can be.
        case messageTooLong
        /// The message ends inside the 12-byte header, a question, a record or a name.
        case tooShort
        /// The header counts more questions or records than the message holds, or bytes follow the last one.
        case countMismatch
        /// A label length byte uses the reserved or extended label types (top bits 01 or 10).
        case badLabelType
        /// A compression pointer does not point strictly backwards to a byte after the header.
        case badPointer
        /// A name follows more compression pointers than the cap (`DNSMessage.maxPointerJumps`).
        case pointerLoop
        /// An address record's data is not 4 bytes (A) or 16 bytes (AAAA), or a name-bearing record's data is
        /// not exactly the names and numbers its type defines.
        case rdataLength

        // Matching the response to the query
        /// The response's id is not the id of the query.
        case idMismatch
        /// A datagram came from an address or port other than the nameserver's. The resolver drops such datagrams
        /// and reports the code only as the cause of a timeout.
        case unexpectedSource
        /// The QR bit is 0: the message is a query, not a response.
        case notAResponse
        /// The opcode is not QUERY (0).
        case unexpectedOpcode
        /// The TC bit is set: the answer did not fit in a UDP datagram. There is no TCP fallback.
        case truncated
        /// The question section is not exactly one question with our name, type and class IN.
        case questionMismatch
        /// The CNAME chain is longer than `DNSMessage.maxCNAMEHops`, which is also how a CNAME loop ends.
        case cnameChainTooLong
        /// A name in the chain has two CNAME records with different targets.
        case conflictingCNAME

        // Response codes (RFC 1035 section 4.1.1)
        /// RCODE 1: the server could not interpret the query.
        case formatError
        /// RCODE 2: the server could not answer, for example because the zone's servers failed.
        case serverFailure
        /// RCODE 3 (NXDOMAIN): the name does not exist. `DNSMessage` returns it as an answer with this rcode;
        /// `ResolutionCache` throws it.
        case nameError
        /// RCODE 4: the server does not support the query.
        case notImplemented
        /// RCODE 5: the server refuses to answer (policy).
        case refused
        /// An RCODE other than 0 to 5.
        case unexpectedResponseCode

        // Resolution
        /// The name exists but has no A or AAAA records (NODATA). Thrown by `ResolutionCache`.
        case noAddresses
        /// No nameserver answered within the timeout on any attempt.
        case timeout
        /// A socket could not be opened, bound or written to (see `underlying`).
        case networkError
        /// The resolver has no nameserver to ask.
        case noNameservers
    }

    /// The rule that failed.
    public let code: Code
    /// What exactly was wrong, for people.
    public let message: String
    /// The underlying cause, when another layer reported it (a socket error).
    public let underlying: (any Error & Sendable)?

    /// Makes an error with a code, a message for people and, optionally, the cause another layer reported.
    public init(_ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// True when both errors have the same code, whatever their messages.
    public static func == (lhs: DNSError, rhs: DNSError) -> Bool { lhs.code == rhs.code }

    /// Hashes the code only, consistent with `==`.
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    /// The code's name and the message.
    public var description: String { "\(code.rawValue): \(message)" }
}
