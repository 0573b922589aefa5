// The decoders of Sources/EnclaveWire that read bytes the other side of the bridge hands over (the host to the
// enclave: bridge frames, queue work, store answers and listings, credentials, stored records, sealed requests and
// their approvals; the enclave to the host and to clients: results, receipts, seals, identities). Shared by
// Fuzz/WireFuzz.swift, which picks one per input, and Fuzz/AttestationFuzz.swift, which runs them all.
//
// Invariants: whatever a decoder accepts re-encodes to bytes that decode to an equal value, within the bounds the
// type promises; a receipt, seal or log head decodes only from its own deterministic encoding (the bytes that are
// hashed and signed); the receipt's direct reader and its general decoder accept exactly the same bytes, as the
// same receipt.

import CBOR
import NitroAttestation

let wireParsers: [FuzzParser] = [
    FuzzParser(name: "wire-message", run: { checkWireMessage($0, maxFrameSize: 1 << 16) }, seeds: wireMessageSeeds),
    FuzzParser(name: "wire-message-bounded", run: checkWireMessageBounded, seeds: { wireMessageSeeds().map { [0x00, 0x40] + $0 } }),
    FuzzParser(name: "queue", run: checkQueueMessage, seeds: queueSeeds),
    FuzzParser(name: "store", run: checkStoreMessage, seeds: storeSeeds),
    FuzzParser(name: "credentials", run: checkCredentialsMessage, seeds: credentialsSeeds),
    FuzzParser(name: "log-head", run: { checkReparses("LogHeadRecord", $0, LogHeadRecord.init(encoded:), \.encoded, canonical: true) }, seeds: logHeadSeeds),
    FuzzParser(name: "receipt", run: checkReceipt, seeds: { [sampleReceipt.encoded, sampleReceiptApproved.encoded] }),
    FuzzParser(name: "seal", run: { checkReparses("Seal", $0, Seal.init(payload:), \.payload, canonical: true) }, seeds: { [sampleSeal.payload] }),
    FuzzParser(name: "signed-receipt", run: { checkReparses("SignedReceipt", $0, SignedReceipt.init(encoded:), \.encoded) }, seeds: signedReceiptSeeds),
    FuzzParser(name: "signed-response", run: { checkReparses("SignedResponse", $0, SignedResponse.init(encoded:), \.encoded) }, seeds: signedResponseSeeds),
    FuzzParser(name: "sealed-request", run: checkSealedRequest, seeds: sealedRequestSeeds),
    FuzzParser(name: "sealed-inner", run: { checkReparses("SealedRequest.Inner", $0, SealedRequest.Inner.init(encoded:), \.encoded) }, seeds: sealedInnerSeeds),
    FuzzParser(name: "sealed-result", run: { checkReparses("SealedResult", $0, SealedResult.init(encoded:), \.encoded) }, seeds: sealedResultSeeds),
    FuzzParser(name: "approval", run: checkApproval, seeds: { sampleApprovals.map { CBOREncoder.encode($0.cbor) } }),
    FuzzParser(name: "credential", run: { checkReparses("Credential", $0, Credential.init(encoded:), \.encoded) }, seeds: credentialSeeds),
    FuzzParser(name: "identity-claims", run: { checkReparses("IdentityClaims", $0, IdentityClaims.init(encoded:), \.encoded) }, seeds: identitySeeds),
    FuzzParser(name: "genesis-claims", run: { checkReparses("GenesisClaims", $0, GenesisClaims.init(encoded:), \.encoded) }, seeds: genesisSeeds),
    FuzzParser(name: "deployment-record", run: { checkReparses("DeploymentRecord", $0, DeploymentRecord.init(encoded:), \.encoded) }, seeds: deploymentSeeds),
    FuzzParser(name: "recovery-record", run: { checkReparses("RecoveryRecord", $0, RecoveryRecord.init(encoded:), \.encoded) }, seeds: recoverySeeds),
]

/// Every wire decoder on the same input (the slow combined target).
func checkAllWireParsers(_ input: [UInt8]) {
    for parser in wireParsers where parser.name != "wire-message-bounded" { parser.run(input) }
}

// MARK: - Checks

/// A bridge frame's payload: it re-encodes to a payload that parses to the same message, and stays within the
/// frame size and the log record's bounds.
private func checkWireMessage(_ input: [UInt8], maxFrameSize: Int) {
    guard let message = try? WireMessage(payload: input, maxFrameSize: maxFrameSize) else { return }
    check(input.count <= maxFrameSize, "a payload of \(input.count) bytes parsed with a frame limit of \(maxFrameSize)", input)
    let again = try? WireMessage(payload: CBOREncoder.encode(message.cbor), maxFrameSize: 1 << 17)
    check(again == message, "WireMessage does not survive re-encoding", input)
    if case .log(let record) = message {
        check(record.metadata.count <= LogRecord.maxMetadataEntries, "a log record over the metadata bound parsed", input)
    }
}

/// The first two bytes set the frame limit (1 to 65,536 bytes), so that short inputs reach it.
private func checkWireMessageBounded(_ input: [UInt8]) {
    guard input.count >= 2 else { return }
    checkWireMessage(Array(input.dropFirst(2)), maxFrameSize: (Int(input[0]) << 8 | Int(input[1])) + 1)
}

private func checkQueueMessage(_ input: [UInt8]) {
    checkReparses("QueueMessage", input, { bytes throws(WireError) in try QueueMessage(encoded: bytes) }, \.encoded)
    guard let message = try? QueueMessage(encoded: input) else { return }
    switch message {
    case .work(let jobs, let attestations):
        check(jobs.count <= QueueMessage.maxBatch && attestations.count <= QueueMessage.maxBatch, "a work batch over the bound parsed", input)
        check(attestations.allSatisfy { $0.nonce.count <= QueueMessage.maxNonce }, "an attestation nonce over the bound parsed", input)
    case .results(_, _, let items):
        check(items.count <= QueueMessage.maxBatch, "a results batch over the bound parsed", input)
    default: break
    }
}

private func checkStoreMessage(_ input: [UInt8]) {
    checkReparses("StoreMessage", input, StoreMessage.init(encoded:), \.encoded)
    guard let message = try? StoreMessage(encoded: input) else { return }
    switch message {
    case .get(_, let key), .put(_, let key, _, _):
        check(StoreMessage.isValidKey(key), "a store key the store refuses parsed", input)
    case .entries(_, let entries, _):
        check(entries.count <= StoreMessage.maxListEntries, "a listing over the bound parsed", input)
        check(entries.allSatisfy { StoreMessage.isValidKey($0.key) && $0.value.count <= StoreMessage.maxValueBytes }, "a listed entry out of bounds parsed", input)
    default: break
    }
    if case .put(_, _, _, let value) = message { check(value.count <= StoreMessage.maxValueBytes, "a stored value over the bound parsed", input) }
    if case .value(_, _, let value) = message { check(value.count <= StoreMessage.maxValueBytes, "a stored value over the bound parsed", input) }
}

private func checkCredentialsMessage(_ input: [UInt8]) {
    checkReparses("CredentialsMessage", input, CredentialsMessage.init(encoded:), \.encoded)
    if case .credentials(_, let key, let secret, let token, _)? = try? CredentialsMessage(encoded: input) {
        check([key, secret, token].allSatisfy { $0.utf8.count <= CredentialsMessage.maxField }, "a credential field over the bound parsed", input)
    }
}

/// The receipt: its deterministic encoding only, and the direct reader agrees with the general decoder.
private func checkReceipt(_ input: [UInt8]) {
    checkReparses("Receipt", input, Receipt.init(encoded:), \.encoded, canonical: true)
    let direct = Receipt.direct(input)
    let general = try? Receipt(decoding: input)
    check(direct == general, "the direct reader gives \(String(describing: direct)), the general decoder \(String(describing: general))", input)
}

private func checkSealedRequest(_ input: [UInt8]) {
    checkReparses("SealedRequest", input, SealedRequest.init(encoded:), \.encoded)
    guard let request = try? SealedRequest(encoded: input) else { return }
    check(request.approvals.count <= SealedRequest.maxApprovals, "more approvals than the bound parsed", input)
    check(request.ciphertext.count >= 16, "a ciphertext shorter than its tag parsed", input)
}

/// One approval, as a sealed request carries it.
private func checkApproval(_ input: [UInt8]) {
    let decoder = CBORDecoder(limits: .init(maxInputSize: 16 * 1024, maxDepth: 1, maxItems: 12))
    let parse = { (bytes: [UInt8]) throws(EnvelopeError) -> Approval in
        guard let item = try? decoder.decode(bytes) else { throw EnvelopeError(.malformed, "not CBOR") }
        return try Approval(item)
    }
    checkReparses("Approval", input, parse, { CBOREncoder.encode($0.cbor) })
    guard let approval = try? parse(input) else { return }
    check((approval.authenticatorData == nil) == (approval.clientDataJSON == nil), "an approval with half an assertion parsed", input)
    check(approval.credential.count == 32 && approval.signature.count <= Approval.maxSignature, "an approval out of bounds parsed", input)
}

// MARK: - Seeds (one valid value of each shape)

private let hash1 = [UInt8](repeating: 0xB0, count: 32)
private let hash2 = [UInt8](repeating: 0x9E, count: 32)

/// The hello is written as bytes, not built, so that the seeds follow the message's fields as they change.
private func wireMessageSeeds() -> [[UInt8]] {
    let hello: [UInt8] = [0x84, 0x00, 0x01, 0x67] + Array("control".utf8) + [0xF6]
    let messages: [WireMessage] = [
        .heartbeat(sequence: 7, time: 1_700_000_000_000), .data([1, 2, 3]), .close(code: "shutdown", reason: "bye"),
        .open(port: 8443, peer: "127.0.0.1:5000"), .connect(host: "kms.us-east-1.amazonaws.com", port: 443), .connected(address: "10.0.0.1:443"),
        .log(LogRecord(time: 1, level: .info, message: "started", metadata: ["k": "v", "boot": "1"])),
        .status(EnclaveStatus(idleTunnels: 2, activeTunnels: 1, uptimeMilliseconds: 5000)),
    ]
    return [hello] + messages.map { accepted(CBOREncoder.encode($0.cbor)) { bytes throws(WireError) in try WireMessage(payload: bytes) } }
}

private func queueSeeds() -> [[UInt8]] {
    let messages: [QueueMessage] = [
        .pull(max: 32, waitMs: 1000),
        .work(jobs: [QueueJob(id: 1, requestID: "req-1", tenant: "acme", operation: "echo", body: [0x68, 0x69], attempt: 1)],
              attestations: [.init(id: 9, nonce: [0x4E])]),
        .results(batch: 1, boot: hash1, items: [QueueResult(jobID: 1, sequence: 1, status: "ok", response: [0x0A], receipt: [0x0B])]),
        .ack(batch: 1), .attestation(id: 1, document: [0x84, 0x40]), .attestationFailed(id: 1, reason: "no"),
    ]
    return messages.map { accepted($0.encoded) { bytes throws(WireError) in try QueueMessage(encoded: bytes) } }
}

private func storeSeeds() -> [[UInt8]] {
    let messages: [StoreMessage] = [
        .get(id: 1, key: "state"), .put(id: 2, key: "state", expectedVersion: 0, value: [1, 2, 3]), .value(id: 3, version: 1, value: [7]),
        .putResult(id: 4, stored: true, version: 1), .failed(id: 5, code: "io"), .list(id: 6, after: "keys/"),
        .entries(id: 7, entries: [StoreEntry(key: "keys/a", version: 1, value: [1]), StoreEntry(key: "keys/b", version: 2, value: [])], more: true),
    ]
    return messages.map { accepted($0.encoded, StoreMessage.init(encoded:)) }
}

private func credentialsSeeds() -> [[UInt8]] {
    let messages: [CredentialsMessage] = [
        .request(id: 1), .credentials(id: 1, accessKeyID: "ASIAEXAMPLE", secretAccessKey: "c2VjcmV0", sessionToken: "dG9rZW4=", expiration: 1_767_225_600),
        .refused(id: 1, code: "unavailable", reason: "no role"),
    ]
    return messages.map { accepted($0.encoded, CredentialsMessage.init(encoded:)) }
}

private func logHeadSeeds() -> [[UInt8]] {
    [
        LogHeadRecord(size: 3, hashes: [hash1, hash2], checkpoint: Array("cloister.example/log\n3\nAAAA\n\n— key sig\n".utf8)),
        LogHeadRecord(size: 1, hashes: [hash1], checkpoint: [0x61], batch: [signedReceipt.encoded]),
    ].map { accepted($0.encoded, LogHeadRecord.init(encoded:)) }
}

private let sampleReceipt = Receipt(
    boot: hash1, sequence: 7, previous: hash2, requestID: "req-7:A.b_c", tenant: "acme", operation: "echo", requestHash: hash1,
    resultHash: hash2, status: "ok", time: 1_700_000_000_000, tenantRoot: nil, approvers: nil)
private let sampleReceiptApproved = Receipt(
    boot: hash1, sequence: 8, previous: hash2, requestID: "req-8", tenant: "acme", operation: "key.sign", requestHash: hash1,
    resultHash: hash2, status: "ok", time: 1_700_000_000_001, tenantRoot: hash2, approvers: [hash1, hash2])
private let sampleSeal = Seal(boot: hash1, first: 5, count: 3, root: hash2, time: 1_700_000_000_456)
private let signedReceipt = SignedReceipt(receipt: sampleReceipt.encoded, seal: [0x84, 0x40, 0xA0, 0x40, 0x40], proof: [hash1])

private func signedReceiptSeeds() -> [[UInt8]] {
    [signedReceipt, SignedReceipt(receipt: sampleReceipt.encoded, seal: [1], proof: [], index: 4, head: [0x61], logProof: [hash2, hash1])]
        .map { accepted($0.encoded, SignedReceipt.init(encoded:)) }
}

private func signedResponseSeeds() -> [[UInt8]] {
    [accepted(SignedResponse(signed: signedReceipt, result: Array("{}".utf8)).encoded, SignedResponse.init(encoded:))]
}

private let sampleApprovals = [
    Approval(credential: hash1, signature: [UInt8](repeating: 0x51, count: 64)),
    Approval(credential: hash2, signature: [0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01], authenticatorData: [UInt8](repeating: 0xAD, count: 37),
             clientDataJSON: Array(#"{"type":"webauthn.get"}"#.utf8)),
]

private func sealedRequestSeeds() -> [[UInt8]] {
    let ciphertext = [UInt8](repeating: 0xC0, count: 24)
    return [
        SealedRequest(boot: hash1, enc: hash2, ciphertext: ciphertext, expiry: 1_700_000_000_000),
        SealedRequest(boot: hash1, enc: hash2, ciphertext: ciphertext, expiry: 1_700_000_000_000, approvals: sampleApprovals),
    ].map { accepted($0.encoded, SealedRequest.init(encoded:)) }
}

private func sealedInnerSeeds() -> [[UInt8]] {
    [accepted(SealedRequest.Inner(body: Array("{}".utf8), reply: hash1).encoded, SealedRequest.Inner.init(encoded:))]
}

private func sealedResultSeeds() -> [[UInt8]] {
    [accepted(SealedResult(enc: hash1, ciphertext: [UInt8](repeating: 0xC1, count: 20)).encoded, SealedResult.init(encoded:))]
}

private func credentialSeeds() -> [[UInt8]] {
    [
        Credential(kind: .ed25519, spki: [UInt8](repeating: 0x11, count: 44), label: "laptop"),
        Credential(kind: .passkey, spki: [UInt8](repeating: 0x22, count: 91), label: "phone", webauthnID: [1, 2, 3], algorithm: -7),
    ].map { accepted($0.encoded, Credential.init(encoded:)) }
}

private func identitySeeds() -> [[UInt8]] {
    [IdentityClaims(hpkePublicKey: hash1, manifestHash: hash2), IdentityClaims(hpkePublicKey: hash1, manifestHash: hash2, deployment: hash1, boot: hash2)]
        .map { accepted($0.encoded, IdentityClaims.init(encoded:)) }
}

private func genesisSeeds() -> [[UInt8]] {
    [accepted(GenesisClaims(commitment: hash1, sealedHash: hash2, provider: "emulated").encoded, GenesisClaims.init(encoded:))]
}

private func deploymentSeeds() -> [[UInt8]] {
    [DeploymentRecord(sealed: [1, 2], genesis: [3]), DeploymentRecord(sealed: [1, 2], genesis: [3], reseal: [4])]
        .map { accepted($0.encoded, DeploymentRecord.init(encoded:)) }
}

private func recoverySeeds() -> [[UInt8]] {
    let entry = RecoveryRecord.Entry(key: hash1, enc: hash2, ciphertext: [UInt8](repeating: 0x48, count: 48))
    return [accepted(RecoveryRecord(commitment: hash1, entries: [entry], signature: hash1 + hash2).encoded, RecoveryRecord.init(encoded:))]
}
