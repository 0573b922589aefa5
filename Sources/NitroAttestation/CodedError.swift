/// An error with one code per rule, for a module whose errors carry nothing else: the code, a message for people,
/// and the cause another layer reported. Equality compares the code only, so tests can name the exact failure.
///
/// A module names its own: `public typealias WebAuthnError = CodedError<WebAuthnErrorCode>`.
public struct CodedError<Code>: Error, Hashable, Sendable, CustomStringConvertible
where Code: RawRepresentable & Hashable & Sendable, Code.RawValue == String {
    /// The rule that failed.
    public let code: Code
    /// What exactly was wrong, for people.
    public let message: String
    /// The underlying cause, when another layer reported it.
    public let underlying: (any Error & Sendable)?

    /// An error for `code`, with a message for people and the cause another layer reported.
    public init(_ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    public var description: String { "\(code.rawValue): \(message)" }
}
