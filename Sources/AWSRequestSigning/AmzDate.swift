import NitroAttestation

/// The signing time in the two forms SigV4 uses: `20150830T123600Z` (the `X-Amz-Date` header) and `20150830`
/// (the credential scope).
struct AmzDate: Sendable, Hashable {
    /// 9999-12-31T23:59:59Z, the last second the four-digit year can write.
    static let latest: Int64 = 253_402_300_799

    let timestamp: String
    let date: String

    init(secondsSince1970 seconds: Int64) throws(AWSSigningError) {
        guard (0...Self.latest).contains(seconds) else {
            throw AWSSigningError(.timeOutOfRange, "\(seconds) s since 1970; 0...\(Self.latest) accepted")
        }
        // `2015-08-30T12:36:00.000Z` less its separators and milliseconds.
        let iso = Timestamp.iso(seconds * 1000).utf8.prefix(19).filter {
            $0 != UInt8(ascii: "-") && $0 != UInt8(ascii: ":")
        }
        timestamp = String(decoding: iso, as: UTF8.self) + "Z"
        date = String(decoding: iso.prefix(8), as: UTF8.self)
    }
}
