import COpenSSL

/// RFC 6125 host name matching against the certificate's `subjectAltName` DNS entries only: no fallback to the
/// subject's common name, a wildcard only as a whole left-most label, and IP entries never consulted (the
/// channel's peer is a bridge, not the destination, so its address proves nothing).
enum HostnameCheck {
    static func matches(certificateDER der: [UInt8], serverName: String) -> Bool {
        der.withUnsafeBufferPointer { buffer -> Bool in
            var cursor = buffer.baseAddress
            guard let certificate = d2i_X509(nil, &cursor, buffer.count) else { return false }
            defer { X509_free(certificate) }
            let flags = UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS) | UInt32(X509_CHECK_FLAG_NEVER_CHECK_SUBJECT)
            return serverName.withCString { X509_check_host(certificate, $0, serverName.utf8.count, flags, nil) } == 1
        }
    }
}
