import EnclaveWire
import Foundation
import NitroAttestation

/// An enclave identity a client has verified: the document passed the root, chain, signature and the pinned
/// PCRs (and, when fetched live, the client's nonce and freshness), and it binds an ES384 identity key and
/// Cloister's identity claims (HPKE key, manifest hash). Every response is checked against `key`.
public struct AttestedIdentity: Sendable {
    public let document: AttestationDocument
    /// The document as received.
    public let documentBytes: [UInt8]
    /// SHA-256 of `documentBytes` (for a boot document, the `boot` its receipts name).
    public let documentHash: [UInt8]
    public let key: ES384PublicKey
    public let claims: IdentityClaims
    /// Whether the chain ends at AWS's root (false: an emulated or other configured root).
    public let isAWSRoot: Bool

    /// The deployment's commitment the document carries (the public key derived from the deployment's master
    /// secret), or nil when the enclave holds no master secret.
    public var deployment: [UInt8]? { claims.deployment }
    /// The boot this identity belongs to: the hash of its boot document (the `boot` of its receipts). A fresh
    /// document names its boot in its claims; a boot document is its own.
    public var boot: [UInt8] { claims.boot ?? documentHash }

    /// How long before `now` the document was taken, by its timestamp (negative when it lies ahead: clock skew).
    public func age(at now: Date = Date()) -> Duration {
        .milliseconds(Int64(now.timeIntervalSince1970 * 1000) - Int64(clamping: document.timestamp))
    }

    /// Verifies `bytes` against `roots` and `policy` at `time`, and reads the identity it binds.
    public static func verify(
        _ bytes: [UInt8], roots: TrustedRoots, policy: AttestationPolicy, at time: ValidationTime = .now
    ) throws(ClientError) -> AttestedIdentity {
        let verified: VerifiedAttestation
        do {
            verified = try AttestationVerifier(roots: roots, cache: nil).verify(bytes, at: time, policy: policy)
        } catch {
            throw ClientError(.attestationInvalid, error.description, attestation: error.code)
        }
        let d = verified.document
        guard let spki = d.publicKey else { throw ClientError(.missingIdentityKey, "the document binds no public_key") }
        let key: ES384PublicKey
        do { key = try ES384PublicKey(spki: spki) } catch { throw ClientError(.missingIdentityKey, "public_key: \(error)") }
        guard let userData = d.userData else { throw ClientError(.malformedClaims, "the document has no user_data") }
        let claims: IdentityClaims
        do { claims = try IdentityClaims(encoded: userData) } catch { throw ClientError(.malformedClaims, "user_data: \(error)") }
        return AttestedIdentity(
            document: d, documentBytes: bytes, documentHash: SHA.sha256(bytes), key: key, claims: claims, isAWSRoot: verified.isAWSRoot)
    }
}

extension AttestedIdentity {
    /// Verifies a boot document (or any document fetched earlier): root, chain, signature and the pinned PCRs,
    /// judged at the document's own time, with no nonce and no age limit (it is old by design).
    public static func verifyBootDocument(_ bytes: [UInt8], roots: TrustedRoots, trust: TrustManifest) throws(ClientError) -> AttestedIdentity {
        var policy = trust.policy()
        policy.maxAge = nil
        return try verify(bytes, roots: roots, policy: policy, at: .documentTimestamp)
    }
}

/// A receipt checked against an identity: its seal is signed by the identity key, covers it, and its Merkle
/// proof leads to the seal's root.
public struct VerifiedReceipt: Sendable, Hashable {
    public let receipt: Receipt
    public let seal: Seal
    /// SHA-256 of the encoded receipt (the next receipt's `prev`).
    public let hash: [UInt8]

    /// Checks `signed` against `key`, naming the first check that fails.
    public static func verify(_ signed: SignedReceipt, key: ES384PublicKey) throws(ClientError) -> VerifiedReceipt {
        let (receipt, seal, envelope) = try parse(signed)
        guard key.verify(envelope) else { throw ClientError(.signatureInvalid, "the seal over receipt \(receipt.sequence) is not signed by the attested identity key") }
        return try check(signed, receipt, seal)
    }

    /// Parses without checking the signature (the audit checks signatures once per seal).
    static func parse(_ signed: SignedReceipt) throws(ClientError) -> (Receipt, Seal, COSESign1) {
        let receipt: Receipt
        do { receipt = try Receipt(encoded: signed.receipt) } catch { throw ClientError(.malformedResponse, "receipt: \(error)") }
        let envelope: COSESign1
        do {
            let item = try CBORDecoderBridge.decode(signed.seal)
            envelope = try COSESign1(item)
        } catch {
            throw ClientError(.malformedResponse, "seal: \(error)")
        }
        let seal: Seal
        do { seal = try Seal(payload: envelope.payload) } catch { throw ClientError(.malformedResponse, "seal payload: \(error)") }
        return (receipt, seal, envelope)
    }

    static func check(_ signed: SignedReceipt, _ receipt: Receipt, _ seal: Seal) throws(ClientError) -> VerifiedReceipt {
        guard seal.boot == receipt.boot, seal.covers(receipt.sequence) else {
            throw ClientError(.sealMismatch, "receipt \(receipt.sequence) is not under its seal (boot or range differ)")
        }
        guard MerkleTree.verify(
            leafHash: MerkleTree.leafHash(signed.receipt), index: receipt.sequence - seal.first, size: seal.count, proof: signed.proof, root: seal.root)
        else { throw ClientError(.proofInvalid, "receipt \(receipt.sequence) is not the one its seal signed (edited, or a wrong proof)") }
        return VerifiedReceipt(receipt: receipt, seal: seal, hash: Receipt.hash(encoded: signed.receipt))
    }
}

import CBOR

/// Decoding bounds for a seal's COSE_Sign1.
enum CBORDecoderBridge {
    static func decode(_ bytes: [UInt8]) throws -> CBOR {
        guard bytes.count <= Seal.maxSize else { throw ClientError(.malformedResponse, "seal larger than \(Seal.maxSize) bytes") }
        return try CBORDecoder(limits: .init(maxInputSize: Seal.maxSize, maxDepth: 3, maxItems: 16)).decode(bytes)
    }
}
