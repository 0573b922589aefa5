/// An error from a secure module, with the NSM's own codes. Equality compares the code only.
public struct NSMError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The NSM's error codes, named as AWS's nsm-api names them on the wire.
    public enum Code: String, Sendable, CaseIterable {
        /// Input argument(s) invalid.
        case invalidArgument = "InvalidArgument"
        /// PCR index out of bounds.
        case invalidIndex = "InvalidIndex"
        /// The response does not correspond to the request.
        case invalidResponse = "InvalidResponse"
        /// The PCR is locked and the operation would modify it.
        case readOnlyIndex = "ReadOnlyIndex"
        /// The request cannot be fulfilled (missing capability, unknown request).
        case invalidOperation = "InvalidOperation"
        /// The output buffer is too small.
        case bufferTooSmall = "BufferTooSmall"
        /// The input is too large.
        case inputTooLarge = "InputTooLarge"
        /// The module failed internally (or the device could not be reached).
        case internalError = "InternalError"
    }

    /// The NSM's code.
    public let code: Code
    /// What happened, for people.
    public let message: String

    public init(_ code: Code, _ message: String = "") {
        self.code = code
        self.message = message
    }

    public static func == (a: NSMError, b: NSMError) -> Bool { a.code == b.code }
    public func hash(into h: inout Hasher) { h.combine(code) }
    public var description: String { message.isEmpty ? code.rawValue : "\(code.rawValue): \(message)" }
}
