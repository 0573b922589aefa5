import NitroAttestation

/// Why a client call or an audit failed, with a stable code naming the check. Equality compares the code only.
public struct ClientError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable {
        /// The network or HTTP layer failed (no answer, not HTTP).
        case transport
        /// The host answered an HTTP error; `apiCode` holds its JSON error code.
        case httpError
        /// The attestation document failed verification (`attestation` holds the verifier's code: root, chain,
        /// signature, PCR pins, nonce, freshness...).
        case attestationInvalid
        /// The document has no `public_key` (no identity key bound).
        case missingIdentityKey
        /// The document's `user_data` is not Cloister's identity claims.
        case malformedClaims
        /// A signed response or receipt is not the structure it must be.
        case malformedResponse
        /// The seal's signature is not by the attested identity key.
        case signatureInvalid
        /// The receipt is not under the seal's Merkle root (an edited receipt, or a proof for another one).
        case proofInvalid
        /// The receipt and the seal name different boots, or the seal does not cover the receipt's sequence.
        case sealMismatch
        /// The receipt is for another request id than the one sent.
        case requestIDMismatch
        /// The receipt's request hash is not the hash of what this client sent.
        case requestHashMismatch
        /// The result bytes are not the ones the receipt commits to.
        case resultHashMismatch
        /// The receipt names another operation or tenant than the call.
        case requestMismatch
        /// The job did not finish in time; it stays queued (retry with the same request id).
        case pending
        /// The enclave performed the job and answered an error status (signed: the failure is authentic).
        case operationFailed
        /// Audit: a receipt is missing in a boot's chain.
        case gap
        /// Audit: a receipt appears out of order or twice.
        case reorder
        /// Audit: a receipt's `prev` is not the hash of the receipt before it.
        case chainBroken
        /// Audit: no attestation document for a boot the log names.
        case missingAttestation
        /// Audit or export: the log file is not one.
        case malformedLog
        /// Audit: a binary log file (`AuditStream`) ends before its end record: cut short in transfer or on disk.
        case truncatedLog
        /// A key-service receipt carries another tenant root than the one this client knows: the host made a tenant
        /// of the same name under a credential of its own.
        case tenantChanged
        /// A request could not be sealed or signed here (a bad enclave key, a failing credential key).
        case sealingFailed
        /// The enclave's deployment commitment is not the one this client remembers or the manifest pins (a
        /// document without one, when one is expected, counts as changed): a host that hid the sealed master
        /// secret made a new deployment appear. In an audit: a boot of another deployment than the log's.
        case deploymentChanged
        /// A response's log head or inclusion proof does not verify: the checkpoint is not signed by the deployment
        /// key under the deployment's origin, or the receipt is not at its index `n` of that head.
        case logProofInvalid
        /// A receipt of a deployment whose log this client has already seen carries no log head (the host stripped it).
        case logHeadMissing
        /// A newer head is not consistent with the newest one seen (or two heads of one size differ): the log was
        /// rewritten or forked. In an audit: a head smaller than one before it, or two heads of one size with
        /// different roots.
        case logForked
        /// Fewer of the pinned witnesses than the quorum cosigned a head consistent with this client's newest one.
        case witnessQuorumMissing
        /// A fork evidence file is not one (not its JSON, a field missing or out of bounds, a head not the
        /// deployment's, or the evidence of another deployment).
        case malformedEvidence
        /// Audit: a receipt of the deployment log is not in the export: a log index skipped between two receipts,
        /// marked missing by the exporter, or below the size of the log's final head.
        case receiptMissing
        /// Audit: two entries of the export claim one log index (an entry repeated, or receipts of two branches).
        case duplicateIndex
        /// Audit: a signed head is not the log the export's receipts rebuild: its size is not where its batch ends,
        /// or its root is not the root of the receipts up to its size.
        case logHeadMismatch
        /// Audit: one request id of a tenant ran as two signed actions (two receipts naming approvers, status `ok`):
        /// an action executed twice.
        case duplicateRequest
    }

    public let code: Code
    public let message: String
    /// The attestation verifier's code, for `attestationInvalid`.
    public let attestation: AttestationError.Code?
    /// The host's JSON error code and HTTP status, for `httpError`.
    public let apiCode: String?
    public let httpStatus: Int?
    /// For `logForked`: the two signed heads and the proof that failed, for a third party to check offline.
    public let evidence: ForkEvidence?

    public init(
        _ code: Code, _ message: String, attestation: AttestationError.Code? = nil, apiCode: String? = nil, httpStatus: Int? = nil,
        evidence: ForkEvidence? = nil
    ) {
        self.code = code
        self.message = message
        self.attestation = attestation
        self.apiCode = apiCode
        self.httpStatus = httpStatus
        self.evidence = evidence
    }

    public static func == (a: ClientError, b: ClientError) -> Bool { a.code == b.code }
    public func hash(into h: inout Hasher) { h.combine(code) }

    public var description: String {
        var s = "\(code.rawValue): \(message)"
        if let attestation { s += " [\(attestation.rawValue)]" }
        if let apiCode { s += " [\(httpStatus.map(String.init) ?? "") \(apiCode)]" }
        return s
    }
}
