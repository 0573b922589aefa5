import NitroAttestation

/// A transparency log checkpoint (C2SP tlog-checkpoint): the note text naming the log (origin), the tree size,
/// the root hash and optional extension lines, one a line.
public struct Checkpoint: Sendable, Hashable {
    /// The log's identity, the first line.
    public let origin: String
    /// The number of leaves in the tree.
    public let size: UInt64
    /// The RFC 9162 root of the tree of `size` leaves.
    public let rootHash: [UInt8]
    /// Opaque lines after the root hash, without their newlines.
    public let extensions: [String]

    /// A checkpoint, checked as parsing would check it.
    public init(origin: String, size: UInt64, rootHash: [UInt8], extensions: [String] = []) throws(TransparencyLogError) {
        guard !origin.isEmpty else { throw TransparencyLogError(.invalidOrigin, "the origin is empty") }
        guard rootHash.count == TreeHash.byteCount else {
            throw TransparencyLogError(.invalidRootHash, "the root hash is \(rootHash.count) bytes, not 32")
        }
        for line in [origin] + extensions {
            guard !line.isEmpty, !line.utf8.contains(where: { $0 < 0x20 }) else {
                throw TransparencyLogError(.malformedCheckpoint, "a line is empty or holds a control character")
            }
        }
        self.origin = origin
        self.size = size
        self.rootHash = rootHash
        self.extensions = extensions
    }

    /// Parses the text of a checkpoint note (as `SignedNote.text` gives it, final newline included).
    public init(parsing text: [UInt8]) throws(TransparencyLogError) {
        guard text.count <= SignedNote.maxBytes, text.last == NoteText.newline else {
            throw TransparencyLogError(.malformedCheckpoint, "a checkpoint ends in a newline and fits in a note")
        }
        guard String(validating: text, as: UTF8.self) != nil else {
            throw TransparencyLogError(.invalidUTF8, "the checkpoint is not UTF-8")
        }
        let lines = text.dropLast().split(separator: NoteText.newline, omittingEmptySubsequences: false)
        guard lines.count >= 3 else {
            throw TransparencyLogError(.malformedCheckpoint, "\(lines.count) lines; a checkpoint has at least 3")
        }
        guard !lines[0].isEmpty else { throw TransparencyLogError(.invalidOrigin, "the origin is empty") }
        guard let size = NoteText.decimal(lines[1]) else {
            throw TransparencyLogError(.invalidTreeSize, "the tree size is not a canonical 64-bit decimal")
        }
        let root: [UInt8]
        do {
            root = try NoteText.base64(lines[2])
        } catch {
            throw TransparencyLogError(.invalidRootHash, "the root hash is not canonical base64", underlying: error)
        }
        try self.init(
            origin: String(decoding: lines[0], as: UTF8.self), size: size, rootHash: root,
            extensions: lines.dropFirst(3).map { String(decoding: $0, as: UTF8.self) })
    }

    /// The note text: the origin, the size, the base64 root and the extension lines, each ending in a newline.
    public var text: [UInt8] {
        Array(([origin, String(size), Base64.encode(rootHash)] + extensions).map { $0 + "\n" }.joined().utf8)
    }
}
