/// Why a peer's bytes were refused on a bridge connection. Equality compares the code only.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable {
        /// A frame declares more than the connection's maximum frame size.
        case frameTooLarge
        /// A frame declares zero bytes.
        case emptyFrame
        /// A frame's payload is not well-formed CBOR within the message bounds.
        case malformedCBOR
        /// The payload is CBOR but not a message of this protocol.
        case malformedMessage
        /// A hello names a protocol version this side does not speak.
        case unsupportedVersion
        /// A hello names a channel kind this side does not know.
        case unknownChannel
        /// The connection ended inside a frame.
        case truncatedFrame
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String = "") {
        self.code = code
        self.message = message
    }

    public static func == (a: WireError, b: WireError) -> Bool { a.code == b.code }
    public func hash(into h: inout Hasher) { h.combine(code) }
    public var description: String { message.isEmpty ? code.rawValue : "\(code.rawValue): \(message)" }
}
