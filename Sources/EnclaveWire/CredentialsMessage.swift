import CBOR

/// The `credentials` channel: the enclave asks, the host answers with the AWS credentials it holds for the
/// instance role (fetched from IMDSv2 and refreshed before they expire). The enclave signs its own KMS requests
/// with them; they grant what the role may do, which the KMS key policy narrows to this enclave's measurements.
/// One message per `data` frame.
public enum CredentialsMessage: Sendable, Hashable {
    /// Enclave → host: the current credentials, please.
    case request(id: UInt64)
    /// Host → enclave: credentials, valid until `expiration` (seconds since 1970).
    case credentials(id: UInt64, accessKeyID: String, secretAccessKey: String, sessionToken: String, expiration: Int64)
    /// Host → enclave: none to give, with a stable code (`unavailable`) and the reason.
    case refused(id: UInt64, code: String, reason: String)

    /// The longest access key id, secret and session token accepted (AWS's tokens run to about 1,300 bytes).
    public static let maxField = 4096

    enum Tag: UInt64 { case request = 0, credentials = 1, refused = 2 }

    public var encoded: [UInt8] {
        let item: CBOR
        switch self {
        case .request(let id): item = [.unsigned(Tag.request.rawValue), .unsigned(id)]
        case .credentials(let id, let key, let secret, let token, let expiration):
            item = [.unsigned(Tag.credentials.rawValue), .unsigned(id), .text(key), .text(secret), .text(token), .unsigned(UInt64(max(0, expiration)))]
        case .refused(let id, let code, let reason): item = [.unsigned(Tag.refused.rawValue), .unsigned(id), .text(code), .text(reason)]
        }
        return CBOREncoder.encode(item)
    }

    public init(encoded input: [UInt8]) throws(WireError) {
        let item: CBOR
        do {
            item = try CBORDecoder(limits: .init(maxInputSize: 3 * Self.maxField + 256, maxDepth: 1, maxItems: 8)).decode(input)
        } catch {
            throw WireError(.malformedCBOR, "\(error)")
        }
        guard let f = item.array, let raw = f.first?.uint64, let tag = Tag(rawValue: raw), f.count >= 2, let id = f[1].uint64 else {
            throw WireError(.malformedMessage, "not a [type, id, fields...] credentials message")
        }
        func text(_ i: Int) throws(WireError) -> String {
            guard let t = f[i].text, !t.isEmpty, t.utf8.count <= Self.maxField, t.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value < 0x7F }) else {
                throw WireError(.malformedMessage, "credentials field \(i) must be 1 to \(Self.maxField) printable ASCII characters")
            }
            return t
        }
        switch (tag, f.count) {
        case (.request, 2): self = .request(id: id)
        case (.credentials, 6):
            guard let expiration = f[5].uint64, expiration <= UInt64(Int64.max) else {
                throw WireError(.malformedMessage, "credentials expiration must be seconds since 1970")
            }
            self = .credentials(id: id, accessKeyID: try text(2), secretAccessKey: try text(3), sessionToken: try text(4), expiration: Int64(expiration))
        case (.refused, 4):
            guard let code = f[2].text, let reason = f[3].text else { throw WireError(.malformedMessage, "refused fields") }
            self = .refused(id: id, code: String(code.prefix(64)), reason: String(reason.prefix(512)))
        default:
            throw WireError(.malformedMessage, "credentials message \(tag) with \(f.count - 1) fields")
        }
    }

    /// The request number of an answer (nil for requests).
    public var answerID: UInt64? {
        switch self {
        case .credentials(let id, _, _, _, _), .refused(let id, _, _): id
        case .request: nil
        }
    }
}
