import COpenSSL

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A parsed DER X.509 certificate (OpenSSL `X509`), with the facts verification needs read once.
public final class X509Certificate: @unchecked Sendable {
    // The X509 object is never mutated after init (its extension cache is filled there), so sharing is safe.
    let pointer: OpaquePointer
    /// The certificate's DER bytes.
    public let der: [UInt8]
    /// SHA-256 of the DER: the fingerprint roots are pinned by.
    public let sha256: [UInt8]
    /// notBefore, in milliseconds since the epoch.
    public let notBefore: Int64
    /// notAfter, in milliseconds since the epoch.
    public let notAfter: Int64
    /// Subject, RFC 2253 form.
    public let subject: String
    /// Issuer, RFC 2253 form.
    public let issuer: String

    /// Parses DER; every byte must belong to the certificate.
    public init(der: [UInt8]) throws(AttestationError) {
        var parsed: OpaquePointer?
        var consumed = 0
        der.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            parsed = d2i_X509(nil, &cursor, buffer.count)
            if let cursor, let base = buffer.baseAddress { consumed = cursor - base }
        }
        guard let parsed else {
            throw AttestationError(.certificateParseFailed, "not a DER X.509 certificate", underlying: OpenSSLError.drain())
        }
        guard consumed == der.count else {
            X509_free(parsed)
            throw AttestationError(.certificateParseFailed, "\(der.count - consumed) bytes follow the certificate")
        }
        guard let nb = Self.milliseconds(X509_get0_notBefore(parsed)), let na = Self.milliseconds(X509_get0_notAfter(parsed)) else {
            X509_free(parsed)
            throw AttestationError(.certificateParseFailed, "unreadable validity period")
        }
        // Fills OpenSSL's extension cache now, so later reads from several threads only read.
        _ = X509_check_purpose(parsed, -1, 0)
        self.pointer = parsed
        self.der = der
        self.sha256 = SHA.sha256(der)
        self.notBefore = nb
        self.notAfter = na
        self.subject = Self.name(X509_get_subject_name(parsed))
        self.issuer = Self.name(X509_get_issuer_name(parsed))
    }

    deinit { X509_free(pointer) }

    /// Parses every certificate in a PEM file's text.
    public static func fromPEM(_ pem: String) throws(AttestationError) -> [X509Certificate] {
        var result: [X509Certificate] = []
        var ders: [[UInt8]] = []
        var bytes = Array(pem.utf8)
        bytes.withUnsafeMutableBufferPointer { buffer in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { return }
            defer { BIO_free(bio) }
            while let x = PEM_read_bio_X509(bio, nil, nil, nil) {
                let length = i2d_X509(x, nil)
                if length > 0 {
                    var der = [UInt8](repeating: 0, count: Int(length))
                    der.withUnsafeMutableBufferPointer { out in
                        var cursor: UnsafeMutablePointer<UInt8>? = out.baseAddress
                        _ = i2d_X509(x, &cursor)
                    }
                    ders.append(der)
                }
                X509_free(x)
            }
        }
        ERR_clear_error()
        for der in ders { result.append(try X509Certificate(der: der)) }
        guard !result.isEmpty else {
            throw AttestationError(.certificateParseFailed, "no PEM certificate found")
        }
        return result
    }

    /// Whether the validity period contains `time` (milliseconds, inclusive at both ends).
    public func isValid(at time: Int64) -> Bool { notBefore <= time && time <= notAfter }

    /// True when basicConstraints says CA:TRUE.
    public var isCA: Bool { X509_check_ca(pointer) > 0 }

    /// The keyUsage bits (`KU_*`), or nil when the extension is absent.
    var keyUsage: UInt32? {
        let ku = X509_get_key_usage(pointer)
        return ku == UInt32.max ? nil : ku
    }

    /// The public key's algorithm and curve, e.g. "EC secp384r1".
    public var keyDescription: String {
        guard let key = X509_get0_pubkey(pointer) else { return "unreadable" }
        if EVP_PKEY_get_base_id(key) == EVP_PKEY_EC {
            return "EC " + (curveName ?? "unknown curve")
        }
        return String(cString: OBJ_nid2sn(EVP_PKEY_get_base_id(key)))
    }

    /// The EC curve's short name ("secp384r1"), or nil for non-EC keys.
    var curveName: String? {
        guard let key = X509_get0_pubkey(pointer), EVP_PKEY_get_base_id(key) == EVP_PKEY_EC else { return nil }
        var buffer = [CChar](repeating: 0, count: 64)
        var length = 0
        guard EVP_PKEY_get_group_name(key, &buffer, buffer.count, &length) == 1 else { return nil }
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The public key as DER SubjectPublicKeyInfo.
    public var publicKeyDER: [UInt8] { X509_get0_pubkey(pointer).map(Self.subjectPublicKeyInfo) ?? [] }

    /// The DER SubjectPublicKeyInfo of a libcrypto `EVP_PKEY*`.
    public static func subjectPublicKeyInfo(_ key: OpaquePointer) -> [UInt8] {
        let length = i2d_PUBKEY(key, nil)
        guard length > 0 else { return [] }
        var der = [UInt8](repeating: 0, count: Int(length))
        der.withUnsafeMutableBufferPointer { out in
            var cursor: UnsafeMutablePointer<UInt8>? = out.baseAddress
            _ = i2d_PUBKEY(key, &cursor)
        }
        return der
    }

    /// The certificate as PEM text.
    public var pem: String {
        let base64 = Base64.encode(der)
        var lines = ["-----BEGIN CERTIFICATE-----"]
        var i = base64.startIndex
        while i < base64.endIndex {
            let j = base64.index(i, offsetBy: 64, limitedBy: base64.endIndex) ?? base64.endIndex
            lines.append(String(base64[i..<j]))
            i = j
        }
        lines.append("-----END CERTIFICATE-----")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Calls `body` with the underlying OpenSSL `X509*`, which must not be kept or modified.
    public func withOpenSSLCertificate<T>(_ body: (OpaquePointer) -> T) -> T { body(pointer) }

    /// The public key (borrowed; lives as long as the certificate).
    var publicKey: OpaquePointer? { X509_get0_pubkey(pointer) }

    private static func milliseconds(_ time: UnsafePointer<ASN1_TIME>?) -> Int64? {
        guard let time else { return nil }
        var parts = tm()
        guard ASN1_TIME_to_tm(time, &parts) == 1 else { return nil }
        return Int64(timegm(&parts)) * 1000
    }

    private static func name(_ name: OpaquePointer?) -> String {
        guard let name, let bio = BIO_new(BIO_s_mem()) else { return "" }
        defer { BIO_free(bio) }
        guard X509_NAME_print_ex(bio, name, 0, cloister_XN_FLAG_RFC2253()) >= 0 else { return "" }
        var data: UnsafeMutablePointer<CChar>?
        let length = cloister_BIO_get_mem_data(bio, &data)
        guard let data, length > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    }
}

extension OpenSSLError {
    /// Takes every error queued on this thread, joined; clears the queue.
    public static func drain() -> OpenSSLError {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return OpenSSLError(reason: reasons.isEmpty ? "no OpenSSL reason" : reasons.joined(separator: "; "))
    }
}

/// Digests through libcrypto.
public enum SHA {
    // Fetched once: OpenSSL 3's one-shot SHA256() looks the algorithm up again on every call, which costs more
    // than hashing a receipt. EVP_MD objects are immutable and safe to share between threads.
    nonisolated(unsafe) private static let sha256MD: OpaquePointer? = EVP_MD_fetch(nil, "SHA256", nil)
    nonisolated(unsafe) private static let sha384MD: OpaquePointer? = EVP_MD_fetch(nil, "SHA384", nil)

    /// SHA-256 of `data`.
    public static func sha256(_ data: [UInt8]) -> [UInt8] { digest(data, sha256MD, 32) }

    /// SHA-384 of `data`.
    public static func sha384(_ data: [UInt8]) -> [UInt8] { digest(data, sha384MD, 48) }

    private static func digest(_ data: [UInt8], _ md: OpaquePointer?, _ length: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: length)
        var written: UInt32 = 0
        let ok = data.withUnsafeBufferPointer { EVP_Digest($0.baseAddress, $0.count, &out, &written, md, nil) }
        precondition(ok == 1 && Int(written) == length, "libcrypto digest failed")
        return out
    }
}
