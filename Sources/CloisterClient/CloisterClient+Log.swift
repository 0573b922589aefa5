import EnclaveWire
import Foundation
import NitroAttestation
import TransparencyLog

extension CloisterClient {
    /// The newest log head this client has verified for its deployment (nil before the first, or without one).
    public var logHead: LogHead? {
        state.withLock { s in s.deployment.flatMap { s.heads[Hex.encode($0)] } }
    }

    /// How many verified heads were smaller than the newest one seen at the time: answers of earlier batches, or a
    /// host showing an old head. Each still proved its receipt included; none replaced the newest.
    public var olderHeadsSeen: Int { state.withLock { $0.olderHeads } }

    /// Checks a receipt's place in the deployment log: the head and inclusion proof it carries, then, for a head
    /// newer than the newest one seen, a consistency proof from that one, fetched from the host. Receipts of an
    /// enclave without a deployment carry no head and need none; once a deployment's head was seen, every later
    /// receipt of it must carry one (`logHeadMissing`: a host that strips heads is caught).
    func checkLog(_ signed: SignedReceipt) async throws(ClientError) {
        guard let deployment else {
            if signed.head != nil { throw ClientError(.logProofInvalid, "a log head from an enclave with no deployment commitment") }
            return
        }
        if signed.head == nil && signed.index == nil && signed.logProof == nil {
            guard logHead == nil else {
                throw ClientError(.logHeadMissing, "the receipt of deployment \(Hex.encode(deployment).prefix(16))… carries no log head, though its log was seen")
            }
            return
        }
        let head = try LogHead.verifyInclusion(signed, deployment: deployment)
        try await adopt(head, deployment: deployment)
    }

    /// Makes `head` the newest one seen if it extends the newest one so far (a consistency proof from the host,
    /// verified here); a smaller head is counted, an equal one must be the same tree.
    func adopt(_ head: LogHead, deployment: [UInt8]) async throws(ClientError) {
        let key = Hex.encode(deployment)
        while true {
            let seen = state.withLock { s -> LogHead? in
                guard let seen = s.heads[key] else {
                    s.heads[key] = head
                    return nil
                }
                if head.checkpoint.size < seen.checkpoint.size { s.olderHeads += 1 }
                return seen
            }
            guard let seen else { return }
            let (old, new) = (seen.checkpoint, head.checkpoint)
            if new.size < old.size { return try await provePrefix(head, of: seen, deployment: deployment) }
            if new.size == old.size {
                guard new.rootHash == old.rootHash else {
                    throw Self.forked("two heads of \(new.size) receipts with different roots", deployment: deployment, seen: seen, offered: head, proof: nil)
                }
                return
            }
            try await requireProof(seen, extendedBy: head, seen: seen, offered: head, deployment: deployment)
            // Another answer may have moved the newest head meanwhile: then check again against that one.
            let adopted = state.withLock { s -> Bool in
                guard s.heads[key] == seen else { return false }
                s.heads[key] = head
                return true
            }
            if adopted { return }
        }
    }

    /// Fetches the host's proof that `large` extends `small` and verifies it against their signed roots; `logForked`
    /// when it does not, with `seen` (the head this client had) and `offered` (the one it was shown) as evidence.
    func requireProof(_ small: LogHead, extendedBy large: LogHead, seen: LogHead, offered: LogHead, deployment: [UInt8]) async throws(ClientError) {
        let (old, new) = (small.checkpoint, large.checkpoint)
        let proof = try await consistencyProof(from: old.size, to: new.size)
        do {
            try ConsistencyProof.verify(oldSize: old.size, newSize: new.size, proof: proof, oldRoot: old.rootHash, newRoot: new.rootHash)
        } catch {
            throw Self.forked(
                "the head of \(new.size) receipts does not extend the one of \(old.size): \(error)", deployment: deployment, seen: seen, offered: offered,
                proof: proof)
        }
    }

    /// A `logForked` error carrying its evidence: the head this client had seen, the one it was offered, the proof.
    static func forked(_ message: String, deployment: [UInt8], seen: LogHead, offered: LogHead, proof: [[UInt8]]?) -> ClientError {
        ClientError(
            .logForked, message,
            evidence: ForkEvidence(.logForked, deployment: deployment, observer: "client", seen: seen, offered: offered, proof: proof, message: message))
    }

    /// Takes a head an earlier session saw (its signed note) as the newest seen for the deployment this client
    /// expects, once it verifies, so that a host that shows this session an older or another log is caught on the
    /// first answer. A head larger than one already seen replaces it unchecked only when none was seen.
    public func rememberLogHead(_ note: [UInt8]) throws(ClientError) {
        guard let deployment else { throw ClientError(.logProofInvalid, "no deployment commitment is known to check a remembered log head against") }
        let head = try LogHead.verify(note, deployment: deployment)
        state.withLock { s in
            let key = Hex.encode(deployment)
            if s.heads[key] == nil { s.heads[key] = head }
        }
    }

    /// Checks that a smaller head is a prefix of the newest one seen (a repeat answered from an earlier batch is;
    /// a head of an enclave restarted on an old copy of its store, or of another branch, is not: `logForked`, with
    /// the two heads and the proof as evidence). Each proven (size, root) is remembered, so that answers out of order
    /// cost one proof per head.
    func provePrefix(_ small: LogHead, of newest: LogHead, deployment: [UInt8]) async throws(ClientError) {
        let slot = "\(Hex.encode(deployment))/\(small.checkpoint.size)"
        if let root = state.withLock({ $0.provenPrefixes[slot] }) {
            guard root == small.checkpoint.rootHash else {
                throw Self.forked(
                    "two heads of \(small.checkpoint.size) receipts with different roots", deployment: deployment, seen: newest, offered: small, proof: nil)
            }
            return
        }
        do { try await requireProof(small, extendedBy: newest, seen: newest, offered: small, deployment: deployment) } catch
            where error.code == .httpError && (400..<500).contains(error.httpStatus ?? 0)
        {
            // The host says no such proof exists: two heads the deployment signed that are not one log.
            throw Self.forked(
                "no proof that the head of \(small.checkpoint.size) receipts is a prefix of the one of \(newest.checkpoint.size) seen before: \(error)",
                deployment: deployment, seen: newest, offered: small, proof: nil)
        }
        state.withLock { s in
            if s.provenPrefixes.count >= 4096 { s.provenPrefixes.removeAll() }
            s.provenPrefixes[slot] = small.checkpoint.rootHash
        }
    }

    /// The host's newest log head (`GET /v1/log/head`), verified against the deployment key.
    public func fetchLogHead() async throws(ClientError) -> LogHead {
        guard let deployment else { throw ClientError(.logProofInvalid, "no deployment commitment is known to check a log head against") }
        let (status, body, _) = try await send("GET", "v1/log/head")
        guard status == 200 else { throw Self.httpError(status, body) }
        return try LogHead.verify(body, deployment: deployment)
    }

    /// Fetches the host's newest head and makes it this client's newest one, once it extends the newest one seen (a
    /// consistency proof from the host); `logForked`, with its evidence, when it does not.
    @discardableResult
    public func updateLogHead() async throws(ClientError) -> LogHead {
        guard let deployment else { throw ClientError(.logProofInvalid, "no deployment commitment is known to check a log head against") }
        let head = try await fetchLogHead()
        try await adopt(head, deployment: deployment)
        return head
    }

    /// The host's consistency proof from the log of `from` receipts to the log of `to` (`GET /v1/log/consistency`),
    /// unverified; asked again for a few seconds while the host still waits for receipts up to `to`.
    public func consistencyProof(from: UInt64, to: UInt64) async throws(ClientError) -> [[UInt8]] {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            let (status, body, _) = try await send("GET", "v1/log/consistency?from=\(from)&to=\(to)")
            if status == 503, ContinuousClock.now < deadline, Self.httpError(status, body).apiCode == "logIncomplete" {
                try? await Task.sleep(for: .milliseconds(100))
                continue
            }
            guard status == 200 else { throw Self.httpError(status, body) }
            guard let value = try? JSONValue.parse(body), let items = value.object?["proof"]?.items else {
                throw ClientError(.logForked, "the consistency proof from \(from) to \(to) is not {\"proof\": [...]}")
            }
            var proof: [[UInt8]] = []
            for item in items {
                guard let text = item.string, let node = Base64.decode(text) else {
                    throw ClientError(.logForked, "a node of the consistency proof from \(from) to \(to) is not base64")
                }
                proof.append(node)
            }
            return proof
        }
    }
}
