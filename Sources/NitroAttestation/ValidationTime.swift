/// The instant at which certificates and freshness are judged. Always an input, never read deep inside.
public enum ValidationTime: Sendable, Hashable {
    /// The current time, read once when verification starts.
    case now
    /// The document's own timestamp: how stored documents are checked (leaf certificates live 3 hours).
    case documentTimestamp
    /// A given instant, in milliseconds since the Unix epoch.
    case instant(milliseconds: Int64)

    /// The instant in milliseconds, given the clock's reading and the document's timestamp.
    public func resolve(now: Int64, documentTimestamp: UInt64) -> Int64 {
        switch self {
        case .now: return now
        case .documentTimestamp: return Int64(clamping: documentTimestamp)
        case .instant(let ms): return ms
        }
    }
}
