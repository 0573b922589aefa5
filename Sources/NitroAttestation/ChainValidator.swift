import COpenSSL

/// A certificate chain that validated: root first, leaf last.
public struct ValidatedChain: Sendable {
    /// The certificates, root (cabundle[0]) first, leaf (the document's certificate) last.
    public let certificates: [X509Certificate]
    /// How many certificate signatures were checked this time (0 when the whole chain came from the cache).
    public let signaturesChecked: Int

    /// The leaf certificate.
    public var leaf: X509Certificate { certificates[certificates.count - 1] }
    /// The root certificate.
    public var root: X509Certificate { certificates[0] }
}

/// Validates root -> cabundle[1...] -> leaf with OpenSSL's path validation (RFC 5280), after pinning the root.
enum ChainValidator {
    static func validate(
        cabundle: [[UInt8]], leaf: [UInt8], roots: TrustedRoots, at time: Int64, cache: ChainCache?
    ) throws(AttestationError) -> ValidatedChain {
        let ders = cabundle + [leaf]
        let hashes = ders.map(SHA.sha256)
        guard roots.fingerprints.contains(hashes[0]) else {
            let subject = (try? X509Certificate(der: ders[0]))?.subject ?? "unparseable certificate"
            throw AttestationError(
                .untrustedRoot, "cabundle[0] (\(subject), SHA-256 \(Hex.encode(hashes[0]).uppercased())) is not a trusted root")
        }

        let last = ders.count - 1
        let keys = ChainCache.prefixKeys(hashes)
        // The longest cached prefix that may stand in for a trust anchor (or the whole chain).
        var cached: (index: Int, entry: ChainCache.Entry)?
        if let cache {
            for k in stride(from: last, through: 1, by: -1) {
                if let e = cache.entry(keys[k]), k == last || e.lastIsCA {
                    cached = (k, e)
                    break
                }
            }
        }

        var certificates = cached?.entry.certificates ?? []
        for i in certificates.count..<ders.count {
            do {
                certificates.append(try X509Certificate(der: ders[i]))
            } catch {
                throw AttestationError(error.code, "\(name(i, of: last)): \(error.message)", underlying: error.underlying)
            }
        }

        // Validity in milliseconds (OpenSSL compares whole seconds), leaf first: its window is the narrowest.
        for i in stride(from: last, through: 0, by: -1) {
            let c = certificates[i]
            if time < c.notBefore {
                throw AttestationError(
                    .certificateNotYetValid, "\(name(i, of: last)) (\(c.subject)) is valid from \(Timestamp.iso(c.notBefore)), checked at \(Timestamp.iso(time))")
            }
            if time > c.notAfter {
                throw AttestationError(
                    .certificateExpired, "\(name(i, of: last)) (\(c.subject)) expired at \(Timestamp.iso(c.notAfter)), checked at \(Timestamp.iso(time))")
            }
        }

        var checked = 0
        if cached?.index != last {
            let anchor = cached?.index ?? 0
            try openSSLValidate(certificates, anchor: anchor, at: time)
            checked = last - anchor
        }

        try checkLeaf(certificates[last])

        if let cache, checked > 0 {
            for k in ((cached?.index ?? 0) + 1)...last {
                cache.insert(keys[k], .init(certificates: Array(certificates[0...k]), lastIsCA: k < last))
            }
        }
        return ValidatedChain(certificates: certificates, signaturesChecked: checked)
    }

    /// Runs X509_verify_cert from `certificates[anchor]` (trusted) down to the leaf, and requires the path it
    /// builds to be exactly the given order.
    private static func openSSLValidate(_ certificates: [X509Certificate], anchor: Int, at time: Int64) throws(AttestationError) {
        let last = certificates.count - 1
        guard let store = X509_STORE_new() else { throw internalFailure("X509_STORE_new") }
        defer { X509_STORE_free(store) }
        guard X509_STORE_add_cert(store, certificates[anchor].pointer) == 1 else { throw internalFailure("X509_STORE_add_cert") }
        guard let untrusted = cloister_sk_X509_new_null() else { throw internalFailure("sk_X509_new_null") }
        defer { cloister_sk_X509_free(untrusted) }
        if anchor + 1 < last {
            for c in certificates[(anchor + 1)..<last] { _ = cloister_sk_X509_push(untrusted, c.pointer) }
        }
        guard let context = X509_STORE_CTX_new() else { throw internalFailure("X509_STORE_CTX_new") }
        defer { X509_STORE_CTX_free(context) }
        guard X509_STORE_CTX_init(context, store, certificates[last].pointer, untrusted) == 1 else {
            throw internalFailure("X509_STORE_CTX_init")
        }
        let parameters = X509_STORE_CTX_get0_param(context)
        // Whole seconds, rounded down: the millisecond check above already decided the edges.
        X509_VERIFY_PARAM_set_time(parameters, time_t(time.floorDivided(by: 1000)))
        // Not X509_V_FLAG_X509_STRICT: AWS's leaf certificates carry no Authority Key Identifier, which strict
        // mode refuses. CA:TRUE, keyCertSign and path lengths are enforced either way.
        var flags: UInt = 0
        // A cached, already validated CA may anchor the rest of the chain.
        if anchor > 0 { flags |= UInt(X509_V_FLAG_PARTIAL_CHAIN) }
        X509_VERIFY_PARAM_set_flags(parameters, flags)

        let ok = X509_verify_cert(context)
        let error = X509_STORE_CTX_get_error(context)
        let depth = Int(X509_STORE_CTX_get_error_depth(context))
        defer { ERR_clear_error() }
        guard ok == 1 else {
            let reason = String(cString: X509_verify_cert_error_string(Int(error)))
            let index = last - depth
            let which = index >= 0 && index <= last ? "\(name(index, of: last)) (\(certificates[index].subject))" : "depth \(depth)"
            throw AttestationError(code(forVerifyError: error), "\(which): \(reason)", underlying: OpenSSLError(reason: reason))
        }

        // The path OpenSSL built must be the one the document states, leaf first.
        guard let built = X509_STORE_CTX_get0_chain(context) else { throw internalFailure("X509_STORE_CTX_get0_chain") }
        let expected = Array(certificates[anchor...last].reversed())
        guard Int(cloister_sk_X509_num(built)) == expected.count else {
            throw AttestationError(.chainInvalid, "the chain does not run root -> cabundle[1...] -> certificate in order")
        }
        for (i, c) in expected.enumerated() where X509_cmp(cloister_sk_X509_value(built, Int32(i)), c.pointer) != 0 {
            throw AttestationError(.chainInvalid, "the chain does not run root -> cabundle[1...] -> certificate in order")
        }
    }

    private static func checkLeaf(_ leaf: X509Certificate) throws(AttestationError) {
        guard leaf.curveName == "secp384r1" else {
            throw AttestationError(.leafKeyNotP384, "leaf key is \(leaf.keyDescription), expected EC P-384")
        }
        guard !leaf.isCA else {
            throw AttestationError(.leafKeyUsageInvalid, "leaf certificate is a CA")
        }
        if let usage = leaf.keyUsage, usage & UInt32(KU_DIGITAL_SIGNATURE) == 0 {
            throw AttestationError(.leafKeyUsageInvalid, "leaf key usage lacks digitalSignature")
        }
    }

    private static func code(forVerifyError error: Int32) -> AttestationError.Code {
        switch error {
        case X509_V_ERR_CERT_HAS_EXPIRED: return .certificateExpired
        case X509_V_ERR_CERT_NOT_YET_VALID: return .certificateNotYetValid
        case X509_V_ERR_CERT_SIGNATURE_FAILURE, X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE,
            X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
            return .chainSignatureInvalid
        case X509_V_ERR_INVALID_CA, X509_V_ERR_PATH_LENGTH_EXCEEDED, X509_V_ERR_KEYUSAGE_NO_CERTSIGN,
            X509_V_ERR_INVALID_NON_CA:
            return .caConstraintViolated
        default: return .chainInvalid
        }
    }

    static func name(_ index: Int, of last: Int) -> String {
        index == last ? "certificate (leaf)" : "cabundle[\(index)]"
    }

    private static func internalFailure(_ call: String) -> AttestationError {
        AttestationError(.chainInvalid, "\(call) failed", underlying: OpenSSLError.drain())
    }
}

extension Int64 {
    func floorDivided(by d: Int64) -> Int64 {
        let q = self / d
        return (self % d != 0 && (self < 0) != (d < 0)) ? q - 1 : q
    }
}
