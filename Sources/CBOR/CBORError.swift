/// Why bytes were refused as CBOR. Equality compares the code only, so tests can name the failure.
public struct CBORError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The rule that was broken.
    public enum Code: String, Sendable, CaseIterable {
        /// The input is larger than `CBORDecoder.Limits.maxInputSize`.
        case inputTooLarge
        /// The input ends inside an item.
        case truncated
        /// A reserved or unassigned initial byte, or an item in a place the grammar forbids.
        case malformed
        /// An array or map declares more elements than there are bytes left to hold them.
        case declaredLengthTooLarge
        /// Nesting of arrays, maps and tags goes deeper than `Limits.maxDepth`.
        case tooDeep
        /// More items than `Limits.maxItems`.
        case tooManyItems
        /// A map repeats a key.
        case duplicateMapKey
        /// A text string is not valid UTF-8.
        case invalidUTF8
        /// Bytes remain after the one top-level item.
        case trailingBytes
        /// The input is empty.
        case empty
    }

    /// The rule that was broken.
    public let code: Code
    /// The byte offset where it was found.
    public let offset: Int
    /// A human-readable detail.
    public let detail: String

    public init(_ code: Code, at offset: Int, _ detail: String = "") {
        self.code = code
        self.offset = offset
        self.detail = detail
    }

    public static func == (lhs: CBORError, rhs: CBORError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    public var description: String {
        "CBOR \(code.rawValue) at byte \(offset)" + (detail.isEmpty ? "" : ": \(detail)")
    }
}
