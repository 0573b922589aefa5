import CBOR
import CloisterClient
import EnclaveWire
import Foundation
import NitroAttestation
import SecureModule
import Testing

@testable import EnclaveRuntime

@Suite struct AuditVerifierTests {
    let verifier = AuditVerifier(trust: TestEnclave.trust, roots: TestEnclave.roots)

    /// Two boots, several batches each, interleaved as a host would log them.
    func twoBoots() async throws -> (AuditLog, Int) {
        let a = try await TestEnclave()
        let b = try await TestEnclave()
        var responses: [SignedResponse] = []
        responses += try a.batch(3).map(\.response)
        responses += try b.batch(1).map(\.response)
        responses += try a.batch(5).map(\.response)
        responses += try b.batch(4).map(\.response)
        let boots = a.boots.merging(b.boots) { x, _ in x }
        return (AuditLog(source: "test", receipts: entries(responses), boots: boots), responses.count)
    }

    @Test func wholeLogPasses() async throws {
        let (log, count) = try await twoBoots()
        let report = verifier.verify(log)
        #expect(report.passed, "\(String(describing: report.failure))")
        #expect(report.verified == count)
        #expect(report.boots.map(\.lastSequence) == [8, 5])
    }

    @Test func exportedFileRoundTrips() async throws {
        let (log, count) = try await twoBoots()
        let again = try AuditLog(json: Array(log.json.utf8))
        #expect(again.receipts == log.receipts)
        #expect(again.boots == log.boots)
        #expect(verifier.verify(again).verified == count)
    }

    @Test(arguments: [
        "", "[]", "{}", "{\"format\":\"cloister-audit/2\",\"receipts\":[]}", "{\"format\":\"cloister-audit/1\",\"receipts\":{}}",
        "{\"format\":\"cloister-audit/1\",\"receipts\":[{\"n\":1}]}", "{\"format\":\"cloister-audit/1\",\"receipts\":[{\"n\":-1,\"entry\":\"AA==\"}]}",
        "{\"format\":\"cloister-audit/1\",\"receipts\":[],\"boots\":{\"zz\":\"AA==\"}}", "{\"format\":\"cloister-audit/1\",\"receipts\":[],\"extra\":1}",
    ])
    func malformedFilesAreRefused(_ text: String) {
        #expect(throws: ClientError(.malformedLog, "")) { try AuditLog(json: Array(text.utf8)) }
    }

    @Test func droppedReceiptIsAGap() async throws {
        var (log, _) = try await twoBoots()
        log.receipts.remove(at: 5)
        let report = verifier.verify(log)
        #expect(report.failure?.code == .gap)
        #expect(report.failureIndex == 7)
        #expect(report.verified == 5)
    }

    @Test func droppedFirstReceiptOfABootIsAGap() async throws {
        var (log, _) = try await twoBoots()
        log.receipts.remove(at: 3)  // boot b's receipt 1
        #expect(verifier.verify(log).failure?.code == .gap)
    }

    @Test func swappedReceiptsAreAReorder() async throws {
        var (log, _) = try await twoBoots()
        log.receipts.swapAt(4, 6)
        let report = verifier.verify(log)
        #expect(report.failure?.code == .reorder)
        #expect(report.failureIndex == 7)
    }

    @Test func repeatedReceiptIsAReorder() async throws {
        var (log, _) = try await twoBoots()
        log.receipts.insert(log.receipts[1], at: 3)
        #expect(verifier.verify(log).failure?.code == .reorder)
    }

    @Test func editedReceiptFailsItsProof() async throws {
        var (log, _) = try await twoBoots()
        var signed = try SignedReceipt(encoded: log.receipts[4].entry)
        var receipt = try Receipt(encoded: signed.receipt)
        receipt.resultHash[0] ^= 1
        signed.receipt = receipt.encoded
        log.receipts[4].entry = signed.encoded
        let report = verifier.verify(log)
        #expect(report.failure?.code == .proofInvalid)
        #expect(report.failureIndex == 5)
    }

    @Test func receiptResealedByAnotherKeyIsCaught() async throws {
        var (log, _) = try await twoBoots()
        // The host edits a receipt and seals it again with a key of its own, recomputing root and proof.
        let signed = try SignedReceipt(encoded: log.receipts[2].entry)
        var receipt = try Receipt(encoded: signed.receipt)
        receipt.status = "forged"
        let envelope = try COSESign1(try CBORDecoder.decode(signed.seal))
        var seal = try Seal(payload: envelope.payload)
        seal.first = receipt.sequence
        seal.count = 1
        seal.root = MerkleTree.leafHash(receipt.encoded)
        let key = try P384Key.generate()
        let signature = try key.signES384(COSESign1.signedBytes(protectedHeader: Seal.protectedHeader, payload: seal.payload))
        let forged = SignedReceipt(
            receipt: receipt.encoded, seal: COSESign1.encode(protectedHeader: Seal.protectedHeader, payload: seal.payload, signature: signature), proof: [])
        log.receipts[2].entry = forged.encoded
        let report = verifier.verify(log)
        #expect(report.failure?.code == .signatureInvalid)
        #expect(report.failureIndex == 3)
    }

    @Test func chainFromAnotherChainOfTheSameKeyIsBroken() async throws {
        // Two chains under one attested key (an enclave bug the audit must still catch): receipt 3 of the second
        // does not link to receipt 2 of the first.
        let a = try await TestEnclave()
        let other = ReceiptChain(identity: a.identity)
        let first = try a.batch(2).map(\.response)
        _ = try other.sealUnlogged([.init(job: QueueJob(id: 9, requestID: "x", tenant: "acme", operation: "echo", body: [], attempt: 1), requestHash: Receipt.genesis, status: "ok", result: [])])
        _ = try other.sealUnlogged([.init(job: QueueJob(id: 10, requestID: "y", tenant: "acme", operation: "echo", body: [], attempt: 1), requestHash: Receipt.genesis, status: "ok", result: [])])
        let third = try other.sealUnlogged([.init(job: QueueJob(id: 11, requestID: "z", tenant: "acme", operation: "echo", body: [], attempt: 1), requestHash: Receipt.genesis, status: "ok", result: [])])
        let log = AuditLog(source: "t", receipts: entries(first + [try SignedResponse(encoded: third[0].result.response)]), boots: a.boots)
        #expect(verifier.verify(log).failure?.code == .chainBroken)
    }

    @Test func bootWithoutItsDocumentIsNamed() async throws {
        var (log, _) = try await twoBoots()
        log.boots = log.boots.filter { $0.value.count < 0 }
        #expect(verifier.verify(log).failure?.code == .missingAttestation)
    }

    @Test func documentFiledUnderTheWrongBootIsRefused() async throws {
        var (log, _) = try await twoBoots()
        let docs = Array(log.boots.values)
        let keys = Array(log.boots.keys)
        log.boots = [keys[0]: docs[1], keys[1]: docs[0]]
        #expect(verifier.verify(log).failure?.code == .missingAttestation)
    }

    @Test func unpinnedMeasurementsFailTheAudit() async throws {
        let (log, _) = try await twoBoots()
        let other = AuditVerifier(trust: TrustManifest(pcrs: [0: [UInt8](repeating: 7, count: 48)]), roots: TestEnclave.roots)
        let failure = other.verify(log).failure
        #expect(failure?.code == .attestationInvalid)
        #expect(failure?.attestation == .pcrMismatch)
        let aws = AuditVerifier(trust: TestEnclave.trust, roots: .aws)
        #expect(aws.verify(log).failure?.attestation == .untrustedRoot)
    }

    @Test func garbageEntryIsMalformed() async throws {
        var (log, _) = try await twoBoots()
        log.receipts[0].entry = [0xA0]
        #expect(verifier.verify(log).failure?.code == .malformedResponse)
    }
}

@Suite struct AuditDeploymentTests {
    static let first = [UInt8](repeating: 0xD1, count: 32)
    static let second = [UInt8](repeating: 0xD2, count: 32)

    /// Boot `a` then boot `b`, two receipts each.
    static func log(_ a: TestEnclave, _ b: TestEnclave) throws -> AuditLog {
        let responses = try a.batch(2).map(\.response) + b.batch(2).map(\.response)
        return AuditLog(source: "t", receipts: entries(responses), boots: a.boots.merging(b.boots) { x, _ in x })
    }

    @Test func everyBootOfOneDeploymentPasses() async throws {
        let log = try Self.log(try await TestEnclave(deployment: Self.first), try await TestEnclave(deployment: Self.first))
        let report = AuditVerifier(trust: TestEnclave.trust, roots: TestEnclave.roots).verify(log)
        #expect(report.passed, "\(String(describing: report.failure))")
        #expect(report.deployment == Self.first)
        #expect(report.boots.map(\.deployment) == [Self.first, Self.first])
        var pinned = TestEnclave.trust
        pinned.deployment = Self.first
        #expect(AuditVerifier(trust: pinned, roots: TestEnclave.roots).verify(log).passed)
    }

    @Test func aBootOfAnotherDeploymentIsNamed() async throws {
        let b = try await TestEnclave(deployment: Self.second)
        let log = try Self.log(try await TestEnclave(deployment: Self.first), b)
        let report = AuditVerifier(trust: TestEnclave.trust, roots: TestEnclave.roots).verify(log)
        #expect(report.failure?.code == .deploymentChanged)
        #expect(report.failureIndex == 3)
        #expect(report.verified == 2)
        #expect(report.failure?.message.contains(String(Hex.encode(b.identity.bootHash).prefix(16))) == true, "\(String(describing: report.failure))")
    }

    @Test func aBootWithoutACommitmentAmongOthersIsChanged() async throws {
        let withNone = try Self.log(try await TestEnclave(deployment: Self.first), try await TestEnclave())
        #expect(AuditVerifier(trust: TestEnclave.trust, roots: TestEnclave.roots).verify(withNone).failure?.code == .deploymentChanged)
        let noneFirst = try Self.log(try await TestEnclave(), try await TestEnclave(deployment: Self.first))
        #expect(AuditVerifier(trust: TestEnclave.trust, roots: TestEnclave.roots).verify(noneFirst).failure?.code == .deploymentChanged)
    }

    @Test func thePinnedOrRememberedDeploymentIsRequiredOfTheFirstBootToo() async throws {
        let log = try Self.log(try await TestEnclave(deployment: Self.first), try await TestEnclave(deployment: Self.first))
        var pinned = TestEnclave.trust
        pinned.deployment = Self.second
        let report = AuditVerifier(trust: pinned, roots: TestEnclave.roots).verify(log)
        #expect(report.failure?.code == .deploymentChanged)
        #expect(report.failureIndex == 1)
        #expect(AuditVerifier(trust: TestEnclave.trust, roots: TestEnclave.roots, deployment: Self.second).verify(log).failureIndex == 1)
        // A manifest's pin wins over a remembered commitment.
        pinned.deployment = Self.first
        #expect(AuditVerifier(trusts: [TestEnclave.trust, pinned], roots: TestEnclave.roots, deployment: Self.second).verify(log).passed)
    }
}

@Suite struct ResponseVerificationTests {
    @Test func responseVerifiesAgainstTheAttestedKeyAndTheRequest() async throws {
        let e = try await TestEnclave()
        let (response, job) = try e.batch(3)[1]
        let key = try ES384PublicKey(spki: e.identity.publicKeyDER)
        let verified = try VerifiedReceipt.verify(response.signed, key: key)
        #expect(verified.receipt.sequence == 2)
        try CloisterClient.check(verified.receipt, response: response, operation: "echo", requestID: job.requestID, body: job.body)

        #expect(throws: ClientError(.requestIDMismatch, "")) {
            try CloisterClient.check(verified.receipt, response: response, operation: "echo", requestID: "other", body: job.body)
        }
        #expect(throws: ClientError(.requestMismatch, "")) {
            try CloisterClient.check(verified.receipt, response: response, operation: "sha256", requestID: job.requestID, body: job.body)
        }
        // Run as another tenant than the client's (job.tenant is acme): caught when the client knows its tenant.
        try CloisterClient.check(verified.receipt, response: response, operation: "echo", requestID: job.requestID, body: job.body, tenant: "acme")
        #expect(throws: ClientError(.requestMismatch, "")) {
            try CloisterClient.check(verified.receipt, response: response, operation: "echo", requestID: job.requestID, body: job.body, tenant: "other")
        }
        #expect(throws: ClientError(.requestHashMismatch, "")) {
            try CloisterClient.check(verified.receipt, response: response, operation: "echo", requestID: job.requestID, body: job.body + [0])
        }
        var edited = response
        edited.result[0] ^= 1
        #expect(throws: ClientError(.resultHashMismatch, "")) {
            try CloisterClient.check(verified.receipt, response: edited, operation: "echo", requestID: job.requestID, body: job.body)
        }
    }

    @Test func anotherKeyOrAnotherProofIsRefused() async throws {
        let e = try await TestEnclave()
        let batch = try e.batch(4)
        let stranger = try ES384PublicKey(spki: try P384Key.generate().publicKeyDER)
        #expect(throws: ClientError(.signatureInvalid, "")) { try VerifiedReceipt.verify(batch[0].response.signed, key: stranger) }
        let key = try ES384PublicKey(spki: e.identity.publicKeyDER)
        var swapped = batch[0].response.signed
        swapped.proof = batch[1].response.signed.proof
        #expect(throws: ClientError(.proofInvalid, "")) { try VerifiedReceipt.verify(swapped, key: key) }
        var outside = batch[0].response.signed
        outside.seal = try await TestEnclave().batch(1)[0].response.signed.seal
        #expect(throws: ClientError(.signatureInvalid, "")) { try VerifiedReceipt.verify(outside, key: key) }
    }

    @Test func identityBindsTheKeyAndClaims() async throws {
        let e = try await TestEnclave()
        let identity = try AttestedIdentity.verify(e.identity.bootDocument, roots: TestEnclave.roots, policy: TestEnclave.trust.policy())
        #expect(identity.key.spki == e.identity.publicKeyDER)
        // The boot document's claims are the fresh ones' without the boot's own hash.
        var bootClaims = e.identity.claims
        bootClaims.boot = nil
        #expect(identity.claims == bootClaims)
        #expect(identity.claims.hpkePublicKey.count == 32)
        #expect(identity.documentHash == e.identity.bootHash)
        // A document with no identity binding (a bare secure-module document) is not a Cloister identity.
        let bare = try await NSMClient(transport: try SoftwareNSM(root: TestEnclave.root, image: TestEnclave.image)).attestation(userData: nil, nonce: nil, publicKey: nil)
        #expect(throws: ClientError(.missingIdentityKey, "")) {
            try AttestedIdentity.verify(bare, roots: TestEnclave.roots, policy: TestEnclave.trust.policy())
        }
        let fresh = try await e.identity.attest(nonce: [1, 2, 3])
        #expect(throws: ClientError(.attestationInvalid, "")) {
            try AttestedIdentity.verify(fresh, roots: TestEnclave.roots, policy: TestEnclave.trust.policy(nonce: [1, 2, 4]))
        }
    }
}

@Suite struct AuditAcrossBuildsTests {
    @Test func aLogOfTwoBuildsNeedsThePinsOfBoth() async throws {
        let other = EnclaveImage(executable: Array("cloister-enclave, the next build".utf8), manifest: Array("{}".utf8))
        let a = try await TestEnclave()
        let b = try await TestEnclave(image: other)
        let responses = try a.batch(2).map(\.response) + b.batch(2).map(\.response)
        let log = AuditLog(source: "t", receipts: entries(responses), boots: a.boots.merging(b.boots) { x, _ in x })
        let first = AuditVerifier(trust: TestEnclave.trust, roots: TestEnclave.roots).verify(log)
        #expect(first.failure?.attestation == .pcrMismatch)
        #expect(first.failureIndex == 3)
        let both = AuditVerifier(trusts: [TestEnclave.trust, TrustManifest(pcrs: [0: other.measurements[0]!])], roots: TestEnclave.roots)
        #expect(both.verify(log).passed)
    }
}
