import CBOR

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A document whose structure, certificate chain and signature all verified.
///
/// Verification says the document came from a secure module whose chain ends at a trusted root; what it
/// proves about the code running comes from `AttestationPolicy` (PCR pins, nonce, age, debug mode).
public struct VerifiedAttestation: Sendable {
    /// The checked document.
    public let document: AttestationDocument
    /// The COSE_Sign1 it came in.
    public let envelope: COSESign1
    /// The validated chain, root first.
    public let chain: ValidatedChain
    /// The instant the chain was judged at, in milliseconds.
    public let validatedAt: Int64
    /// True when the root is AWS Nitro Enclaves Root-G1; false for an emulated or other pinned root.
    public var isAWSRoot: Bool { TrustedRoots.isAWS(chain.root) }
}

/// Verifies Nitro attestation documents: COSE_Sign1 and AWS's rules, the chain to a pinned root, and
/// the ES384 signature over the bytes as received. Pure computation: no I/O.
public struct AttestationVerifier: Sendable {
    /// Which roots a chain may start from.
    public var roots: TrustedRoots
    /// Validated chain prefixes shared across calls (nil: validate every chain in full).
    public var cache: ChainCache?

    /// Largest input accepted as a document. Real ones are 4-8 KiB.
    public static let maxDocumentSize = 64 * 1024
    static let envelopeLimits = CBORDecoder.Limits(maxInputSize: maxDocumentSize, maxDepth: 4, maxItems: 16)

    public init(roots: TrustedRoots = .aws, cache: ChainCache? = ChainCache()) {
        self.roots = roots
        self.cache = cache
    }

    /// Parses the COSE_Sign1 and the document without checking chain or signature.
    public static func parse(_ bytes: [UInt8]) throws(AttestationError) -> (COSESign1, AttestationDocument) {
        guard bytes.count <= maxDocumentSize else {
            throw AttestationError(.malformedCBOR, "\(bytes.count) bytes; a document is at most \(maxDocumentSize)")
        }
        let item: CBOR
        do {
            item = try CBORDecoder(limits: envelopeLimits).decode(bytes)
        } catch {
            throw AttestationError(.malformedCBOR, "\(error)", underlying: error)
        }
        let envelope = try COSESign1(item)
        let document = try AttestationDocument(payload: envelope.payload)
        return (envelope, document)
    }

    /// Verifies `bytes` as an attestation document at `time`. Throws the first rule that fails.
    ///
    /// Order: CBOR, COSE_Sign1, the document's fields, the root pin, every certificate's validity at `time`,
    /// the path from root to leaf, the leaf key, and the document's signature.
    public func verify(_ bytes: [UInt8], at time: ValidationTime = .now) throws(AttestationError) -> VerifiedAttestation {
        let (envelope, document) = try Self.parse(bytes)
        return try verify(envelope, document, at: time)
    }

    /// Verifies what `parse` returned (chain and signature), for callers that already parsed the document.
    public func verify(_ envelope: COSESign1, _ document: AttestationDocument, at time: ValidationTime = .now) throws(AttestationError) -> VerifiedAttestation {
        let now = time == .now ? Self.currentMilliseconds() : 0
        let instant = time.resolve(now: now, documentTimestamp: document.timestamp)
        let chain = try ChainValidator.validate(
            cabundle: document.cabundle, leaf: document.certificate, roots: roots, at: instant, cache: cache)
        guard let key = chain.leaf.publicKey,
            ES384.verify(signature: envelope.signature, message: envelope.signedBytes, key: key)
        else {
            throw AttestationError(.signatureInvalid, "the ES384 signature does not verify with the leaf certificate's key")
        }
        return VerifiedAttestation(document: document, envelope: envelope, chain: chain, validatedAt: instant)
    }

    /// Verifies and then applies `policy`; throws the first failure of either.
    public func verify(_ bytes: [UInt8], at time: ValidationTime = .now, policy: AttestationPolicy) throws(AttestationError) -> VerifiedAttestation {
        let verified = try verify(bytes, at: time)
        if case .failsToMeetPolicy(let error) = policy.evaluate(verified).result { throw error }
        return verified
    }

    static func currentMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}
