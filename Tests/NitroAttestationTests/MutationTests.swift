import CBOR
import Testing

@testable import NitroAttestation

/// One mutation of a real document per COSE and AWS rule, each asserting the exact error code.
@Suite struct MutationTests {
    typealias Mutation = (name: String, expected: AttestationError.Code?, apply: @Sendable (inout DocumentMutator) -> Void)

    static let big = CBOR.bytes([UInt8](repeating: 0xAB, count: 1025))

    static let mutations: [Mutation] = [
        // COSE_Sign1
        ("unchanged, re-assembled", nil, { _ in }),
        ("untagged", nil, { $0.tag = nil }),
        ("tag 17 (COSE_Mac0)", .invalidCOSETag, { $0.tag = 17 }),
        ("tag 98 (COSE_Sign)", .invalidCOSETag, { $0.tag = 98 }),
        ("protected header ES256", .invalidProtectedHeader, { $0.protectedHeader = .bytes(CBOREncoder.encode(.map([1: -7]))) }),
        ("protected header with an extra entry", .invalidProtectedHeader, { $0.protectedHeader = .bytes(CBOREncoder.encode(.map([1: -35, 4: .bytes([1])]))) }),
        ("protected header empty", .invalidProtectedHeader, { $0.protectedHeader = .bytes([]) }),
        ("protected header as a map", .invalidProtectedHeader, { $0.protectedHeader = .map([1: -35]) }),
        ("protected header not CBOR", .invalidProtectedHeader, { $0.protectedHeader = .bytes([0xFF, 0x00]) }),
        ("unprotected header with a kid", .invalidUnprotectedHeader, { $0.unprotectedHeader = .map([4: .bytes([1])]) }),
        ("unprotected header null", .invalidUnprotectedHeader, { $0.unprotectedHeader = nil }),
        ("payload as a map", .invalidPayload, { $0.payload = .map(["module_id": "x"]) }),
        ("payload not CBOR", .invalidPayload, { $0.payload = .bytes([0x1C]) }),
        ("payload an array", .invalidPayload, { $0.payload = .bytes(CBOREncoder.encode([1, 2])) }),
        ("signature 95 bytes", .invalidSignatureLength, { $0.signature = .bytes(Array(($0.signature.bytes ?? []).dropLast())) }),
        ("signature 97 bytes", .invalidSignatureLength, { $0.signature = .bytes(($0.signature.bytes ?? []) + [0]) }),
        ("signature as text", .invalidSignatureLength, { $0.signature = "signature" }),
        ("signature flipped in r", .signatureInvalid, { m in var s = m.signature.bytes!; s[5] ^= 0x01; m.signature = .bytes(s) }),
        ("signature flipped in s", .signatureInvalid, { m in var s = m.signature.bytes!; s[90] ^= 0x80; m.signature = .bytes(s) }),
        ("signature zero", .signatureInvalid, { $0.signature = .bytes([UInt8](repeating: 0, count: 96)) }),
        ("payload keys reordered (same map, other bytes)", .signatureInvalid, { m in
            var entries = m.payloadMap.entries
            entries.reverse()
            m.payload = .bytes(CBOREncoder.encode(.map(CBORMap(entries.map { ($0.key, $0.value) }))))
        }),
        ("PCR0 bit flipped", .signatureInvalid, { m in
            var pcrs = m["pcrs"]!.map!
            var v = pcrs[0]!.bytes!
            v[0] ^= 1
            pcrs[0] = .bytes(v)
            m["pcrs"] = .map(pcrs)
        }),

        // The document's fields
        ("extra text key", .unexpectedField, { $0["foo"] = 1 }),
        ("extra integer key", .unexpectedField, { m in var p = m.payloadMap; p[7] = 1; m.payloadMap = p }),
        ("module_id missing", .invalidModuleID, { $0["module_id"] = nil }),
        ("module_id empty", .invalidModuleID, { $0["module_id"] = "" }),
        ("module_id an integer", .invalidModuleID, { $0["module_id"] = 5 }),
        ("digest SHA256", .invalidDigest, { $0["digest"] = "SHA256" }),
        ("digest lower case", .invalidDigest, { $0["digest"] = "sha384" }),
        ("digest missing", .invalidDigest, { $0["digest"] = nil }),
        ("timestamp zero", .invalidTimestamp, { $0["timestamp"] = 0 }),
        ("timestamp negative", .invalidTimestamp, { $0["timestamp"] = -5 }),
        ("timestamp text", .invalidTimestamp, { $0["timestamp"] = "2024-01-01" }),
        ("timestamp missing", .invalidTimestamp, { $0["timestamp"] = nil }),
        ("pcrs empty", .invalidPCRs, { $0["pcrs"] = .map(CBORMap()) }),
        ("pcrs 33 entries", .invalidPCRs, { $0["pcrs"] = .map(CBORMap((0..<33).map { (.int(Int64($0)), .bytes([UInt8](repeating: 0, count: 48))) })) }),
        ("pcrs an array", .invalidPCRs, { $0["pcrs"] = [.bytes([UInt8](repeating: 0, count: 48))] }),
        ("pcrs missing", .invalidPCRs, { $0["pcrs"] = nil }),
        ("PCR index 32", .invalidPCRIndex, { m in var p = m["pcrs"]!.map!; p[0] = nil; p[32] = .bytes([UInt8](repeating: 0, count: 48)); m["pcrs"] = .map(p) }),
        ("PCR index -1", .invalidPCRIndex, { m in var p = m["pcrs"]!.map!; p[-1] = .bytes([UInt8](repeating: 0, count: 48)); p[0] = nil; m["pcrs"] = .map(p) }),
        ("PCR index text", .invalidPCRIndex, { m in var p = m["pcrs"]!.map!; p["0"] = .bytes([UInt8](repeating: 0, count: 48)); p[0] = nil; m["pcrs"] = .map(p) }),
        ("PCR 47 bytes", .invalidPCRLength, { m in var p = m["pcrs"]!.map!; p[1] = .bytes([UInt8](repeating: 0, count: 47)); m["pcrs"] = .map(p) }),
        ("PCR empty", .invalidPCRLength, { m in var p = m["pcrs"]!.map!; p[1] = .bytes([]); m["pcrs"] = .map(p) }),
        ("PCR text", .invalidPCRLength, { m in var p = m["pcrs"]!.map!; p[1] = "00"; m["pcrs"] = .map(p) }),
        ("PCR 32 bytes (SHA-256 size: allowed)", .signatureInvalid, { m in var p = m["pcrs"]!.map!; p[1] = .bytes([UInt8](repeating: 0, count: 32)); m["pcrs"] = .map(p) }),
        ("certificate empty", .invalidCertificate, { $0["certificate"] = .bytes([]) }),
        ("certificate 1025 bytes", .invalidCertificate, { $0["certificate"] = big }),
        ("certificate missing", .invalidCertificate, { $0["certificate"] = nil }),
        ("certificate text", .invalidCertificate, { $0["certificate"] = "MII..." }),
        ("cabundle empty", .invalidCABundle, { $0["cabundle"] = [] }),
        ("cabundle missing", .invalidCABundle, { $0["cabundle"] = nil }),
        ("cabundle a byte string", .invalidCABundle, { m in m["cabundle"] = m["cabundle"]!.array![0] }),
        ("cabundle entry empty", .invalidCABundleEntry, { m in var c = m["cabundle"]!.array!; c[1] = .bytes([]); m["cabundle"] = .array(c) }),
        ("cabundle entry 1025 bytes", .invalidCABundleEntry, { m in var c = m["cabundle"]!.array!; c[1] = big; m["cabundle"] = .array(c) }),
        ("cabundle entry text", .invalidCABundleEntry, { m in var c = m["cabundle"]!.array!; c[1] = "x"; m["cabundle"] = .array(c) }),
        ("public_key 1025 bytes", .invalidPublicKey, { $0["public_key"] = big }),
        ("public_key text", .invalidPublicKey, { $0["public_key"] = "key" }),
        ("user_data 1025 bytes", .invalidUserData, { $0["user_data"] = big }),
        ("user_data an integer", .invalidUserData, { $0["user_data"] = 1 }),
        ("nonce 1025 bytes", .invalidNonce, { $0["nonce"] = big }),
        ("nonce an array", .invalidNonce, { $0["nonce"] = [] }),
        ("optional fields 1024 bytes (allowed)", .signatureInvalid, { m in
            let max = CBOR.bytes([UInt8](repeating: 1, count: 1024))
            m["public_key"] = max; m["user_data"] = max; m["nonce"] = max
        }),
        ("optional fields absent (allowed)", .signatureInvalid, { m in m["public_key"] = nil; m["user_data"] = nil; m["nonce"] = nil }),
        ("optional fields empty (allowed)", .signatureInvalid, { m in m["public_key"] = .bytes([]); m["user_data"] = .bytes([]); m["nonce"] = .bytes([]) }),

        // The chain
        ("intermediate missing", .chainInvalid, { m in var c = m["cabundle"]!.array!; c.remove(at: 2); m["cabundle"] = .array(c) }),
        ("intermediates swapped", .chainInvalid, { m in var c = m["cabundle"]!.array!; c.swapAt(1, 2); m["cabundle"] = .array(c) }),
        ("intermediate signature corrupted", .chainSignatureInvalid, { m in
            var c = m["cabundle"]!.array!
            var der = c[2].bytes!
            der[der.count - 3] ^= 0x01
            c[2] = .bytes(der)
            m["cabundle"] = .array(c)
        }),
        ("intermediate not DER", .certificateParseFailed, { m in var c = m["cabundle"]!.array!; c[2] = .bytes([0x30, 0x03, 0x02, 0x01]); m["cabundle"] = .array(c) }),
        ("intermediate with a trailing byte", .certificateParseFailed, { m in var c = m["cabundle"]!.array!; c[2] = .bytes(c[2].bytes! + [0]); m["cabundle"] = .array(c) }),
        ("leaf not DER", .certificateParseFailed, { $0["certificate"] = .bytes([0x30, 0x00]) }),
        ("root replaced", .untrustedRoot, { m in var c = m["cabundle"]!.array!; c[0] = c[1]; m["cabundle"] = .array(c) }),
        ("root dropped", .untrustedRoot, { m in var c = m["cabundle"]!.array!; c.removeFirst(); m["cabundle"] = .array(c) }),
        ("leaf replaced by its issuing CA", .leafKeyUsageInvalid, { m in
            var c = m["cabundle"]!.array!
            m["certificate"] = c.removeLast()
            m["cabundle"] = .array(c)
        }),
        ("leaf replaced by the root", .chainInvalid, { m in m["certificate"] = m["cabundle"]!.array![0] }),
    ]

    @Test(arguments: mutations.map(\.name))
    func mutationFailsWithItsCode(name: String) throws {
        guard let doc = Samples.any else {
            print("SKIP: \(Corpus.skipMessage)")
            return
        }
        let mutation = try #require(Self.mutations.first { $0.name == name })
        var m = try DocumentMutator(doc)
        mutation.apply(&m)
        #expect(DocumentMutator.failure(m.bytes) == mutation.expected, "\(name)")
    }

    @Test func reencodingAnIndefinitePayloadBreaksTheSignature() throws {
        guard let doc = Samples.indefinitePayload else {
            print("SKIP: \(Corpus.skipMessage)")
            return
        }
        var m = try DocumentMutator(doc)
        #expect(DocumentMutator.failure(m.bytes) == nil)
        // Same map, definite-length encoding: a verifier that re-encodes would wrongly accept or reject.
        m.payloadMap = m.payloadMap
        #expect(DocumentMutator.failure(m.bytes) == .signatureInvalid)
    }

    @Test func duplicatePayloadKeyIsRefused() throws {
        guard let doc = Samples.any else {
            print("SKIP: \(Corpus.skipMessage)")
            return
        }
        var m = try DocumentMutator(doc)
        var raw = CBOREncoder.encode(.map(m.payloadMap))
        raw[0] += 1  // one more entry than the map had
        CBOREncoder.append("module_id", to: &raw)
        CBOREncoder.append("i-duplicate", to: &raw)
        m.payload = .bytes(raw)
        #expect(DocumentMutator.failure(m.bytes) == .invalidPayload)
    }

    @Test func everyTruncationAndTrailingByteIsRefused() throws {
        guard let doc = Samples.any else {
            print("SKIP: \(Corpus.skipMessage)")
            return
        }
        for length in 0..<doc.count {
            let code = DocumentMutator.failure(Array(doc.prefix(length)))
            #expect(code == .malformedCBOR, "truncated to \(length) bytes")
        }
        #expect(DocumentMutator.failure(doc + [0x00]) == .malformedCBOR)
    }

    @Test func everyBitFlipInTheSignatureIsCaught() throws {
        guard let doc = Samples.any else {
            print("SKIP: \(Corpus.skipMessage)")
            return
        }
        let m = try DocumentMutator(doc)
        let signature = try #require(m.signature.bytes)
        let verifier = AttestationVerifier()
        for byte in stride(from: 0, to: 96, by: 7) {
            var changed = m
            var s = signature
            s[byte] ^= 0x10
            changed.signature = .bytes(s)
            #expect(throws: AttestationError(.signatureInvalid, "")) { try verifier.verify(changed.bytes, at: .documentTimestamp) }
        }
    }

    @Test func untrustedRootsAreRefused() throws {
        guard let doc = Samples.any else {
            print("SKIP: \(Corpus.skipMessage)")
            return
        }
        #expect(DocumentMutator.failure(doc, roots: .none) == .untrustedRoot)
        let other = TrustedRoots(fingerprints: [[UInt8](repeating: 1, count: 32)])
        #expect(DocumentMutator.failure(doc, roots: other) == .untrustedRoot)
    }
}
