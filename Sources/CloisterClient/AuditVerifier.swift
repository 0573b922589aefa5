import EnclaveWire
import NitroAttestation
import TransparencyLog

/// Replays a receipt log offline. For each boot the log names, the boot's attestation document must verify
/// (root, chain, signature and PCR pins, judged at the document's own time) and bind the key that signed every
/// seal of that boot; within a boot, receipts must run 1, 2, 3... each naming the hash of the one before. The
/// first failure is named: a gap, a reorder, a broken chain, an edited receipt, a receipt signed by an
/// unattested key, a boot with no document, or a boot of another deployment (every boot document of one log
/// carries the same deployment commitment: the pinned one, when there is a pin).
public struct AuditVerifier: Sendable {
    /// The pins of every build the log may hold (a deployment that was upgraded has several): a boot document
    /// must meet one of them.
    public var trusts: [TrustManifest]
    public var roots: TrustedRoots
    /// The deployment commitment every boot document must carry; nil: the one the log's first boot carries.
    public var deployment: [UInt8]?
    /// Heads of the deployment's log seen elsewhere (signed notes: a client's remembered head, a witness's
    /// cosigned one): the export must hold each of them, with the same root at its size (`logForked` otherwise), and
    /// reach past the largest (`receiptMissing`: the export's tail was cut below it).
    public var seenHeads: [[UInt8]] = []
    /// Witnesses whose cosignatures on `seenHeads` count, and how many of them must have cosigned a head the export
    /// holds (`witnessQuorumMissing` otherwise).
    public var witnesses: [NoteVerifierKey] = []
    public var witnessQuorum = 0

    /// `deployment`: a commitment remembered from elsewhere; a manifest's pin takes precedence.
    public init(trust: TrustManifest, roots: TrustedRoots = .aws, deployment: [UInt8]? = nil) {
        self.init(trusts: [trust], roots: roots, deployment: deployment)
    }

    /// `deployment`: a commitment remembered from elsewhere; the first pin among `trusts` takes precedence.
    public init(trusts: [TrustManifest], roots: TrustedRoots = .aws, deployment: [UInt8]? = nil) {
        self.trusts = trusts
        self.roots = roots
        self.deployment = trusts.lazy.compactMap(\.deployment).first ?? deployment
    }

    /// What one boot's chain holds.
    public struct Boot: Sendable, Hashable {
        public var hash: [UInt8]
        public var receipts: Int
        public var lastSequence: UInt64
        public var moduleID: String
        public var pcr0: [UInt8]
        /// The deployment commitment the boot document carries (nil: none).
        public var deployment: [UInt8]?
    }

    public struct Report: Sendable {
        /// Receipts that passed every check, in log order, before any failure.
        public var verified: Int
        public var boots: [Boot]
        /// The first failure, and the log index (`n`) of the entry it is about.
        public var failure: ClientError?
        public var failureIndex: Int64?
        /// The deployment log's final head, once every receipt of the log was checked against it (nil: no log, or
        /// a failure first).
        public var log: Checkpoint? = nil
        /// Signed actions checked for a request id run twice.
        public var actions: UInt64 = 0
        public var passed: Bool { failure == nil }
        /// The deployment commitment every verified boot carries (nil: none, or no boot verified).
        public var deployment: [UInt8]? { boots.first?.deployment }
    }

    struct Chain {
        var identity: AttestedIdentity
        var last: UInt64 = 0
        var lastHash = Receipt.genesis
        var seals = Set<[UInt8]>()
        var order: Int
    }

    public func verify(_ log: AuditLog) -> Report {
        var chains: [[UInt8]: Chain] = [:]
        var report = Report(verified: 0, boots: [], failure: nil, failureIndex: nil)
        // Which receipts the log holds anywhere, so that one that comes too early is named a reorder, not a gap.
        var present = Set<[UInt8]>()
        for entry in log.receipts {
            if let s = try? SignedReceipt(encoded: entry.entry), let r = try? Receipt(encoded: s.receipt) { present.insert(Self.key(r.boot, r.sequence)) }
        }
        let actions = RepeatedActionFinder()
        for entry in log.receipts {
            do {
                try check(entry, log: log, present: present, &chains, actions: actions)
                report.verified += 1
            } catch {
                report.failure = error
                report.failureIndex = entry.index
                break
            }
        }
        if report.passed {
            report.actions = actions.count
            do {
                try checkRepeats(actions) { wanted in
                    var found: [Int64: Receipt] = [:]
                    for e in log.receipts where wanted.contains(e.index) {
                        found[e.index] = (try? SignedReceipt(encoded: e.entry)).flatMap { try? Receipt(encoded: $0.receipt) }
                    }
                    return found
                }
            } catch {
                report.failure = error.error
                report.failureIndex = error.index
            }
        }
        report.boots = Self.boots(chains)
        return report
    }

    static func boots(_ chains: [[UInt8]: Chain]) -> [Boot] {
        chains.sorted { $0.value.order < $1.value.order }.map { hash, c in
            Boot(
                hash: hash, receipts: Int(c.last), lastSequence: c.last, moduleID: c.identity.document.moduleID, pcr0: c.identity.document.pcrs[0] ?? [],
                deployment: c.identity.deployment)
        }
    }

    /// Refuses a boot whose deployment commitment is not the pinned one or, with no pin, the first boot's.
    private func checkDeployment(_ identity: AttestedIdentity, boot: String, first: AttestedIdentity?) throws(ClientError) {
        let name = "boot \(boot.prefix(16))…"
        let presented = identity.deployment.map { "deployment \(Hex.encode($0))" } ?? "no deployment commitment"
        if let deployment {
            guard identity.deployment != deployment else { return }
            throw ClientError(.deploymentChanged, "\(name) carries \(presented), not the pinned deployment \(Hex.encode(deployment))")
        }
        guard let first, identity.deployment != first.deployment else { return }
        let log = first.deployment.map { "deployment \(Hex.encode($0))" } ?? "no deployment commitment"
        throw ClientError(.deploymentChanged, "\(name) carries \(presented), but the log's first boot carries \(log)")
    }

    static func key(_ boot: [UInt8], _ sequence: UInt64) -> [UInt8] { boot + withUnsafeBytes(of: sequence.bigEndian, Array.init) }

    /// The identity boot `boot`'s document (in `boots`) attests: it must be filed under its own hash, meet one of
    /// the pins, and carry the expected deployment (`first`: the identity of the log's first boot).
    func adopt(_ boot: [UInt8], boots: [String: [UInt8]], first: AttestedIdentity?) throws(ClientError) -> AttestedIdentity {
        let bootHex = Hex.encode(boot)
        guard let document = boots[bootHex] else {
            throw ClientError(.missingAttestation, "no attestation document for boot \(bootHex.prefix(16))… (export the log with its documents)")
        }
        guard SHA.sha256(document) == boot else {
            throw ClientError(.missingAttestation, "the document filed under boot \(bootHex.prefix(16))… has another hash")
        }
        var identity: AttestedIdentity?
        var firstError: ClientError?
        for trust in trusts where identity == nil {
            do { identity = try AttestedIdentity.verifyBootDocument(document, roots: roots, trust: trust) } catch {
                firstError = firstError ?? error
            }
        }
        guard let identity else { throw firstError ?? ClientError(.attestationInvalid, "no pins given") }
        try checkDeployment(identity, boot: bootHex, first: first)
        return identity
    }

    private func check(
        _ entry: AuditLog.Entry, log: AuditLog, present: Set<[UInt8]>, _ chains: inout [[UInt8]: Chain], actions: RepeatedActionFinder
    ) throws(ClientError) {
        let signed: SignedReceipt
        do { signed = try SignedReceipt(encoded: entry.entry) } catch { throw ClientError(.malformedResponse, "entry \(entry.index): \(error)") }
        let (receipt, seal, envelope) = try VerifiedReceipt.parse(signed)
        let bootHex = Hex.encode(receipt.boot)
        if chains[receipt.boot] == nil {
            let identity = try adopt(receipt.boot, boots: log.boots, first: chains.values.first { $0.order == 0 }?.identity)
            chains[receipt.boot] = Chain(identity: identity, order: chains.count)
        }
        var chain = chains[receipt.boot]!
        let sealHash = SHA.sha256(signed.seal)
        if !chain.seals.contains(sealHash) {
            guard chain.identity.key.verify(envelope) else {
                throw ClientError(
                    .signatureInvalid, "receipt \(receipt.sequence) of boot \(bootHex.prefix(16))… is sealed by a key that boot's attestation does not bind")
            }
            chain.seals.insert(sealHash)
        }
        let verified = try VerifiedReceipt.check(signed, receipt, seal)
        let expected = chain.last + 1
        if receipt.sequence > expected && present.contains(Self.key(receipt.boot, expected)) {
            throw ClientError(.reorder, "boot \(bootHex.prefix(16))…: receipt \(receipt.sequence) comes before receipt \(expected)")
        }
        if receipt.sequence > expected {
            throw ClientError(
                .gap, "boot \(bootHex.prefix(16))…: receipt\(receipt.sequence - expected > 1 ? "s" : "") \(expected)\(receipt.sequence - expected > 1 ? "…\(receipt.sequence - 1)" : "") missing before \(receipt.sequence)")
        }
        if receipt.sequence < expected {
            throw ClientError(.reorder, "boot \(bootHex.prefix(16))…: receipt \(receipt.sequence) comes after receipt \(chain.last)")
        }
        guard receipt.previous == chain.lastHash else {
            throw ClientError(.chainBroken, "boot \(bootHex.prefix(16))…: receipt \(receipt.sequence) does not name the hash of receipt \(chain.last)")
        }
        chain.last = receipt.sequence
        chain.lastHash = verified.hash
        chains[receipt.boot] = chain
        if receipt.approvers != nil, receipt.status == "ok" { try actions.add(tenant: receipt.tenant, requestID: receipt.requestID, index: entry.index) }
    }
}
