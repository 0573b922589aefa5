// libFuzzer target for the CBOR codec and Nitro attestation parsing and verification.
//
// Every input goes through DocumentEncoding.decode, CBORDecoder, AttestationVerifier.parse and a full
// AttestationVerifier.verify against the AWS root (with a shared ChainCache, so cache hits are exercised
// across inputs). Thrown errors are expected; a crash, a sanitizer report or a broken invariant is a bug.
//
// Invariants (each one stops the fuzzer with fatalError when broken):
//   1. CBOR round trip: decode(X) = V  =>  decode(encode(V)) succeeds and is structurally identical to V
//      (floats compared by bit pattern, text by UTF-8 bytes), and encoding is deterministic.
//      Also, CBORDecoder accepts X only if X is well-formed by RFC 8949 Appendix C (checked independently
//      by `isWellFormed` below, which never calls into the library).
//   2. Document round trip: parse(X) = (E, D)  =>  AttestationDocument(D.cbor) == D.
//   3. Envelope round trip: COSESign1.encode(E's parts) parses back to E, with the same document.
//   4. Hex round trip: DocumentEncoding.decode(hex(B)) == (B, .hex) for every decoded B.
//   5. Cache consistency: when the cached verifier accepts the chain, a verifier without a cache reaches
//      the same outcome.
//   6. A verified document meets a policy that pins its own PCRs and nonce.
//   7. NSM wire codec: a request or response that decodes re-encodes to bytes that decode to the same value
//      (Sources/SecureModule/NSMMessages.swift and NSMError.swift are compiled into this target).
//   8. The EnclaveWire decoders (the bridge's WireMessage, the queue, store and credentials messages, stored
//      records, receipts, seals, sealed requests, approvals...): Fuzz/Common/WireChecks.swift, all on each input.
//   9. The WebAuthn parsers and ceremonies: Fuzz/Common/WebAuthnChecks.swift, all on each input.
//   Scripts/fuzz-wire and Scripts/fuzz-webauthn run 8 and 9 alone, one parser per input, far faster.
//
// Build and run with Scripts/fuzz-attestation.

import CBOR
import NitroAttestation
import SecureModule

/// Shared across inputs so chain prefixes validated by one input are reused by later ones.
private let cachedVerifier = AttestationVerifier(roots: .aws, cache: ChainCache(capacity: 64))
/// The same roots without a cache: the reference for invariant 5.
private let uncachedVerifier = AttestationVerifier(roots: .aws, cache: nil)

@_cdecl("LLVMFuzzerTestOneInput")
public func attestationFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input: [UInt8] = (data != nil && size > 0) ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    fuzzOne(input)
    return 0
}

private func fuzzOne(_ input: [UInt8]) {
    checkNSMRoundTrip(input)
    checkAllWireParsers(input)
    checkAllWebAuthnParsers(input)

    // File decoding (raw CBOR, hex, base64).
    var document = input
    if let decoded = try? DocumentEncoding.decode(input) {
        if decoded.encoding == .cbor {
            check(decoded.bytes == input, "DocumentEncoding.decode changed raw CBOR input", input)
        }
        checkHexRoundTrip(decoded.bytes)
        document = decoded.bytes
    }

    // The generic CBOR decoder on the raw input and on the decoded document.
    checkCBORRoundTrip(input, limits: .default)
    if document != input { checkCBORRoundTrip(document, limits: .default) }
    // Tight limits reach the depth and item bounds with short inputs.
    checkCBORRoundTrip(document, limits: .init(maxInputSize: 1 << 16, maxDepth: 4, maxItems: 16))

    // Structural parsing.
    guard let (envelope, parsed) = try? AttestationVerifier.parse(document) else {
        // verify must fail whenever parse fails.
        if let verified = try? cachedVerifier.verify(document, at: .documentTimestamp) {
            die("verify accepted a document that parse refused (module \(verified.document.moduleID))", document)
        }
        return
    }
    checkDocumentRoundTrip(parsed, document)
    checkEnvelopeRoundTrip(envelope, parsed, document)
    _ = AttestationPolicy().evaluate(parsed, at: Int64(clamping: parsed.timestamp))

    // Full verification: chain to the AWS root, then the ES384 signature.
    let outcome: Result<VerifiedAttestation, AttestationError>
    do {
        outcome = .success(try cachedVerifier.verify(document, at: .documentTimestamp))
    } catch {
        outcome = .failure(error)
    }
    checkCacheConsistency(outcome, document)

    if case .success(let verified) = outcome {
        check(verified.document == parsed, "verify returned a document different from parse", document)
        check(verified.envelope == envelope, "verify returned an envelope different from parse", document)
        check(verified.isAWSRoot, "verify with AWS roots accepted another root", document)
        let pinned = AttestationPolicy(pcrs: parsed.pcrs, nonce: parsed.nonce, maxAge: 0, allowDebug: true)
        let report = pinned.evaluate(verified)
        check(report.result == .meetsPolicy, "a document fails a policy pinning its own values: \(report.checks)", document)
    }
}

// MARK: - Invariants

private func checkCBORRoundTrip(_ bytes: [UInt8], limits: CBORDecoder.Limits) {
    let decoder = CBORDecoder(limits: limits)
    guard let value = try? decoder.decode(bytes) else { return }
    check(isWellFormed(bytes), "CBORDecoder accepted input that is not well-formed CBOR (decoded to a \(value.kindName))", bytes)
    let encoded = CBOREncoder.encode(value)
    let again: CBOR
    do {
        again = try decoder.decode(encoded)
    } catch {
        die("re-encoded CBOR does not decode: \(error); re-encoded \(hex(encoded))", bytes)
    }
    check(identical(value, again), "CBOR round trip changed the value: \(value) became \(again)", bytes)
    check(CBOREncoder.encode(again) == encoded, "CBOR encoding is not deterministic", bytes)
}

private func checkDocumentRoundTrip(_ document: AttestationDocument, _ input: [UInt8]) {
    let item = document.cbor
    let reparsed: AttestationDocument
    do {
        reparsed = try AttestationDocument(item)
    } catch {
        die("document.cbor does not parse back: \(error)", input)
    }
    check(reparsed == document, "document.cbor parses back to a different document", input)
}

private func checkEnvelopeRoundTrip(_ envelope: COSESign1, _ document: AttestationDocument, _ input: [UInt8]) {
    let encoded = COSESign1.encode(
        protectedHeader: envelope.protectedHeader, payload: envelope.payload, signature: envelope.signature,
        tagged: envelope.isTagged)
    let reparsed: (COSESign1, AttestationDocument)
    do {
        reparsed = try AttestationVerifier.parse(encoded)
    } catch {
        die("re-encoded COSE_Sign1 does not parse: \(error)", input)
    }
    check(reparsed.0 == envelope, "re-encoded COSE_Sign1 parses to a different envelope", input)
    check(reparsed.1 == document, "re-encoded COSE_Sign1 parses to a different document", input)
    check(reparsed.0.signedBytes == envelope.signedBytes, "Sig_structure differs after re-encoding", input)
}

private func checkHexRoundTrip(_ bytes: [UInt8]) {
    guard !bytes.isEmpty, bytes.count * 2 <= DocumentEncoding.maxFileSize else { return }
    let text = Array(Hex.encode(bytes).utf8)
    guard let decoded = try? DocumentEncoding.decode(text) else {
        die("hex of decoded bytes is refused by DocumentEncoding.decode", bytes)
    }
    check(decoded.encoding == .hex && decoded.bytes == bytes, "hex round trip differs (\(decoded.encoding))", bytes)
}

/// Outcomes once the chain has been accepted: the cache must not change them.
private let postChainCodes: Set<AttestationError.Code> = [.signatureInvalid, .leafKeyNotP384, .leafKeyUsageInvalid]

private func checkCacheConsistency(_ cached: Result<VerifiedAttestation, AttestationError>, _ input: [UInt8]) {
    let cachedCode: AttestationError.Code?
    switch cached {
    case .success: cachedCode = nil
    case .failure(let e):
        guard postChainCodes.contains(e.code) else { return }
        cachedCode = e.code
    }
    let referenceCode: AttestationError.Code?
    do {
        _ = try uncachedVerifier.verify(input, at: .documentTimestamp)
        referenceCode = nil
    } catch {
        referenceCode = error.code
    }
    check(
        cachedCode == referenceCode,
        "cached verification gave \(cachedCode?.rawValue ?? "success"), uncached \(referenceCode?.rawValue ?? "success")",
        input)
}

// MARK: - Reference well-formedness check (RFC 8949 Appendix C)

/// Whether `bytes` is exactly one well-formed CBOR data item, by the RFC's reference algorithm. Only the
/// encoding is checked (not UTF-8, duplicate keys or tag semantics). Called only on inputs the decoder
/// accepted, so recursion depth is bounded by the decoder's own depth limit.
private func isWellFormed(_ bytes: [UInt8]) -> Bool {
    var reader = WellFormedReader(bytes: bytes)
    guard let kind = reader.item(breakable: false), kind != WellFormedReader.breakMarker else { return false }
    return reader.offset == bytes.count
}

private struct WellFormedReader {
    static let breakMarker = -1
    /// What an indefinite-length item reports instead of its major type (so it is never a valid string chunk).
    static let indefiniteItem = 8
    let bytes: [UInt8]
    var offset = 0

    mutating func take(_ n: UInt64) -> UInt64? {
        guard n <= UInt64(bytes.count - offset) else { return nil }
        var v: UInt64 = 0
        if n <= 8 {
            for i in 0..<Int(n) { v = v << 8 | UInt64(bytes[offset + i]) }
        }
        offset += Int(n)
        return v
    }

    /// The major type of the item read (`indefiniteItem` for an indefinite-length one), `breakMarker` for a
    /// break (when `breakable`), nil when not well-formed.
    mutating func item(breakable: Bool) -> Int? {
        guard let ib = take(1) else { return nil }
        let major = Int(ib >> 5)
        let ai = ib & 0x1F
        var value = ai
        switch ai {
        case 24: guard let v = take(1) else { return nil }; value = v
        case 25: guard let v = take(2) else { return nil }; value = v
        case 26: guard let v = take(4) else { return nil }; value = v
        case 27: guard let v = take(8) else { return nil }; value = v
        case 28, 29, 30: return nil
        case 31: return indefinite(major: major, breakable: breakable)
        default: break
        }
        switch major {
        case 2, 3:
            guard take(value) != nil else { return nil }
        case 4:
            var i: UInt64 = 0
            while i < value {
                guard let k = item(breakable: false), k != Self.breakMarker else { return nil }
                i += 1
            }
        case 5:
            var i: UInt64 = 0
            while i < value {
                guard let k = item(breakable: false), k != Self.breakMarker,
                    let v = item(breakable: false), v != Self.breakMarker
                else { return nil }
                i += 1
            }
        case 6:
            guard let k = item(breakable: false), k != Self.breakMarker else { return nil }
        case 7:
            if ai == 24 && value < 32 { return nil }
        default: break
        }
        return major
    }

    mutating func indefinite(major: Int, breakable: Bool) -> Int? {
        switch major {
        case 2, 3:
            while true {
                guard let k = item(breakable: true) else { return nil }
                if k == Self.breakMarker { return Self.indefiniteItem }
                // Chunks are definite strings of the same major type.
                guard k == major else { return nil }
            }
        case 4:
            while true {
                guard let k = item(breakable: true) else { return nil }
                if k == Self.breakMarker { return Self.indefiniteItem }
            }
        case 5:
            while true {
                guard let k = item(breakable: true) else { return nil }
                if k == Self.breakMarker { return Self.indefiniteItem }
                guard let v = item(breakable: false), v != Self.breakMarker else { return nil }
            }
        case 7:
            return breakable ? Self.breakMarker : nil
        default:
            return nil
        }
    }
}

// MARK: - Helpers

/// Structural identity: like ==, but floats compare by bit pattern (NaN is never == itself) and text by its
/// UTF-8 bytes (String == uses canonical equivalence).
private func identical(_ a: CBOR, _ b: CBOR) -> Bool {
    switch (a, b) {
    case (.unsigned(let x), .unsigned(let y)), (.negative(let x), .negative(let y)): return x == y
    case (.bytes(let x), .bytes(let y)): return x == y
    case (.text(let x), .text(let y)): return Array(x.utf8) == Array(y.utf8)
    case (.array(let x), .array(let y)):
        return x.count == y.count && zip(x, y).allSatisfy { identical($0, $1) }
    case (.map(let x), .map(let y)):
        return x.count == y.count
            && zip(x.entries, y.entries).allSatisfy { identical($0.key, $1.key) && identical($0.value, $1.value) }
    case (.tagged(let t, let x), .tagged(let u, let y)): return t == u && identical(x, y)
    case (.bool(let x), .bool(let y)): return x == y
    case (.null, .null), (.undefined, .undefined): return true
    case (.float(let x), .float(let y)): return x.bitPattern == y.bitPattern
    default: return false
    }
}

/// Invariant 7, the NSM codec (what the enclave reads back from /dev/nsm, and what the emulator reads).
private func checkNSMRoundTrip(_ input: [UInt8]) {
    if let request = try? NSMRequest(input) {
        check((try? NSMRequest(request.encoded)) == request, "NSMRequest does not survive re-encoding", input)
    }
    if let response = try? NSMResponse(input) {
        check((try? NSMResponse(response.encoded)) == response, "NSMResponse does not survive re-encoding", input)
    }
}
