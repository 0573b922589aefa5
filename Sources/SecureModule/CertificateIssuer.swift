import COpenSSL
import NitroAttestation

/// Issues X.509 certificates with libcrypto, in the shape of AWS's Nitro hierarchy.
enum CertificateIssuer {
    /// What a certificate is for, which decides its extensions.
    enum Role {
        /// Self-signed trust anchor: CA:TRUE with no path length, keyCertSign and cRLSign (critical).
        case root
        /// Issuing CA: CA:TRUE with a path length; keyCertSign (and cRLSign unless `keyCertSignOnly`).
        case intermediate(pathLength: Int, keyCertSignOnly: Bool)
        /// Document signer: CA:FALSE (critical); digitalSignature and nonRepudiation (not critical).
        case leaf
        /// TLS server (the emulated KMS): CA:FALSE (critical), digitalSignature, serverAuth, and `names` as DNS or IP
        /// subject alternative names.
        case tlsServer(names: [String])
    }

    static func issue(
        subject: [(String, String)], serial: [UInt8], notBefore: Int64, notAfter: Int64, role: Role,
        publicKey: P384Key, issuer: (certificate: X509Certificate, key: P384Key)?
    ) throws(NSMError) -> X509Certificate {
        guard let x = X509_new() else { throw NSMError(.internalError, "X509_new") }
        defer { X509_free(x) }
        guard X509_set_version(x, 2) == 1 else { throw NSMError(.internalError, "X509_set_version") }

        let bn = serial.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, Int32($0.count), nil) }
        defer { BN_free(bn) }
        guard let bn, BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != nil else { throw NSMError(.internalError, "serial") }
        guard ASN1_TIME_set(X509_getm_notBefore(x), time_t(notBefore)) != nil,
            ASN1_TIME_set(X509_getm_notAfter(x), time_t(notAfter)) != nil
        else { throw NSMError(.internalError, "validity") }

        guard let name = X509_NAME_new() else { throw NSMError(.internalError, "X509_NAME_new") }
        defer { X509_NAME_free(name) }
        for (field, value) in subject {
            guard X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, value, -1, -1, 0) == 1 else {
                throw NSMError(.internalError, "subject \(field)")
            }
        }
        guard X509_set_subject_name(x, name) == 1, X509_set_pubkey(x, publicKey.pointer) == 1 else {
            throw NSMError(.internalError, "subject or key")
        }
        let signer: P384Key
        if let issuer {
            let ok = issuer.certificate.withOpenSSLCertificate { X509_set_issuer_name(x, X509_get_subject_name($0)) }
            guard ok == 1 else { throw NSMError(.internalError, "issuer name") }
            signer = issuer.key
        } else {
            guard X509_set_issuer_name(x, name) == 1 else { throw NSMError(.internalError, "issuer name") }
            signer = publicKey
        }

        var extensions: [(Int32, String)] = []
        switch role {
        case .root:
            extensions = [(NID_basic_constraints, "critical,CA:TRUE"), (NID_key_usage, "critical,digitalSignature,keyCertSign,cRLSign")]
        case .intermediate(let pathLength, let keyCertSignOnly):
            extensions = [
                (NID_basic_constraints, "critical,CA:TRUE,pathlen:\(pathLength)"),
                (NID_key_usage, keyCertSignOnly ? "critical,keyCertSign" : "critical,digitalSignature,keyCertSign,cRLSign"),
            ]
        case .leaf:
            extensions = [(NID_basic_constraints, "critical,CA:FALSE"), (NID_key_usage, "digitalSignature,nonRepudiation")]
        case .tlsServer(let names):
            let alternatives = names.map { name in name.allSatisfy({ $0.isNumber || $0 == "." || $0 == ":" }) ? "IP:\(name)" : "DNS:\(name)" }
            extensions = [
                (NID_basic_constraints, "critical,CA:FALSE"), (NID_key_usage, "critical,digitalSignature"), (NID_ext_key_usage, "serverAuth"),
                (NID_subject_alt_name, alternatives.joined(separator: ",")),
            ]
        }
        switch role {
        case .leaf, .tlsServer: break
        default: extensions.append((NID_subject_key_identifier, "hash"))
        }
        if issuer != nil, case .intermediate = role { extensions.append((NID_authority_key_identifier, "keyid:always")) }

        for (nid, value) in extensions {
            let ext: OpaquePointer? = {
                if let issuer { return issuer.certificate.withOpenSSLCertificate { cloister_X509V3_ext($0, x, nid, value) } }
                return cloister_X509V3_ext(x, x, nid, value)
            }()
            guard let ext else { throw NSMError(.internalError, "extension \(value): \(OpenSSLError.drain())") }
            defer { X509_EXTENSION_free(ext) }
            guard X509_add_ext(x, ext, -1) == 1 else { throw NSMError(.internalError, "X509_add_ext") }
        }

        guard X509_sign(x, signer.pointer, EVP_sha384()) > 0 else { throw NSMError(.internalError, "X509_sign: \(OpenSSLError.drain())") }
        let length = i2d_X509(x, nil)
        guard length > 0 else { throw NSMError(.internalError, "i2d_X509") }
        var der = [UInt8](repeating: 0, count: Int(length))
        der.withUnsafeMutableBufferPointer { out in
            var cursor: UnsafeMutablePointer<UInt8>? = out.baseAddress
            _ = i2d_X509(x, &cursor)
        }
        do {
            return try X509Certificate(der: der)
        } catch {
            throw NSMError(.internalError, "issued certificate does not parse: \(error)")
        }
    }
}
