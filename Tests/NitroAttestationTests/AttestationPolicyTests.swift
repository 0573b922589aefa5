import Testing

@testable import NitroAttestation

@Suite struct AttestationPolicyTests {
    static let zero = [UInt8](repeating: 0, count: 48)
    static let one = [UInt8](repeating: 1, count: 48)

    static func document(pcrs: [Int: [UInt8]] = [0: one, 1: one, 2: one, 3: zero], nonce: [UInt8]? = nil, timestamp: UInt64 = 1_700_000_000_000) -> AttestationDocument {
        AttestationDocument(moduleID: "i-test", timestamp: timestamp, pcrs: pcrs, certificate: [1], cabundle: [[1]], nonce: nonce)
    }

    func outcome(_ report: AttestationPolicy.Report, _ name: String) -> AttestationPolicy.Outcome? {
        report.checks.first { $0.name == name }?.outcome
    }

    @Test func noPinsIsReportedAsNotCheckedNeverAsMatched() {
        let report = AttestationPolicy().evaluate(Self.document(), at: 1_700_000_000_000)
        guard case .notChecked? = outcome(report, "pcrs") else {
            Issue.record("expected notChecked, got \(String(describing: outcome(report, "pcrs")))")
            return
        }
        #expect(report.result == .meetsPolicy)
        #expect(report.pcrComparisons.isEmpty)
    }

    @Test func pinnedPCRsMatchMismatchOrGoMissing() {
        let doc = Self.document()
        let t: Int64 = 1_700_000_000_000
        #expect(AttestationPolicy(pcrs: [0: Self.one, 3: Self.zero]).evaluate(doc, at: t).result == .meetsPolicy)
        #expect(AttestationPolicy(pcrs: [0: Self.zero]).evaluate(doc, at: t).result == .failsToMeetPolicy(AttestationError(.pcrMismatch, "")))
        #expect(AttestationPolicy(pcrs: [16: Self.zero]).evaluate(doc, at: t).result == .failsToMeetPolicy(AttestationError(.pcrMissing, "")))
        let report = AttestationPolicy(pcrs: [0: Self.one, 1: Self.zero, 16: Self.zero]).evaluate(doc, at: t)
        #expect(report.pcrComparisons.map(\.index) == [0, 1, 16])
        #expect(report.pcrComparisons[2].actual == nil)
    }

    @Test func anyAuthorisedBuildMayMatch() {
        let doc = Self.document()
        let t: Int64 = 1_700_000_000_000
        let two = [UInt8](repeating: 2, count: 48)
        // Build A is pinned first; the document is of build B, listed among the other builds.
        let policy = AttestationPolicy(pcrs: [0: two, 1: two], otherBuilds: [[0: Self.zero], [0: Self.one, 1: Self.one, 2: Self.one]])
        let report = policy.evaluate(doc, at: t)
        #expect(report.result == .meetsPolicy)
        guard case .passed(let message)? = outcome(report, "pcrs") else {
            Issue.record("expected passed, got \(String(describing: outcome(report, "pcrs")))")
            return
        }
        #expect(message.contains("build 2 of 2"), "\(message)")
        // The comparisons stay those of the primary pins.
        #expect(report.pcrComparisons.map(\.index) == [0, 1])
        // A PCR8-only set for signed images.
        #expect(AttestationPolicy(pcrs: [0: two], otherBuilds: [[8: Self.one]]).evaluate(Self.document(pcrs: [0: Self.one, 8: Self.one]), at: t).result == .meetsPolicy)
    }

    @Test func noBuildMatchingFailsWithThePrimaryPinsError() {
        let doc = Self.document()
        let t: Int64 = 1_700_000_000_000
        // Every pin of a build must match: a build that matches only partly is no match.
        let partly = AttestationPolicy(pcrs: [16: Self.zero], otherBuilds: [[0: Self.one, 1: Self.zero]])
        #expect(partly.evaluate(doc, at: t).result == .failsToMeetPolicy(AttestationError(.pcrMissing, "")))
        let mismatch = AttestationPolicy(pcrs: [0: Self.zero], otherBuilds: [[16: Self.one], [0: Self.one, 9: Self.one]])
        guard case .failed(let error)? = outcome(mismatch.evaluate(doc, at: t), "pcrs") else {
            Issue.record("expected a failure")
            return
        }
        #expect(error.code == .pcrMismatch)
        #expect(error.message.hasPrefix("PCR0 is"), "\(error.message)")
        // Only other builds pinned: they are checked, and the first one's failure is reported.
        #expect(AttestationPolicy(otherBuilds: [[0: Self.one]]).evaluate(doc, at: t).result == .meetsPolicy)
        #expect(AttestationPolicy(otherBuilds: [[17: Self.one]]).evaluate(doc, at: t).result == .failsToMeetPolicy(AttestationError(.pcrMissing, "")))
        // Empty build sets pin nothing: with no other pin, the check is not made, and says so.
        guard case .notChecked? = outcome(AttestationPolicy(otherBuilds: [[:]]).evaluate(doc, at: t), "pcrs") else {
            Issue.record("empty builds must be reported as not checked")
            return
        }
    }

    @Test func nonceMustMatchExactly() {
        let t: Int64 = 1_700_000_000_000
        let policy = AttestationPolicy(nonce: [1, 2, 3])
        #expect(policy.evaluate(Self.document(nonce: [1, 2, 3]), at: t).result == .meetsPolicy)
        #expect(policy.evaluate(Self.document(nonce: [1, 2]), at: t).result == .failsToMeetPolicy(AttestationError(.nonceMismatch, "")))
        #expect(policy.evaluate(Self.document(nonce: nil), at: t).result == .failsToMeetPolicy(AttestationError(.nonceMismatch, "")))
        #expect(policy.evaluate(Self.document(nonce: []), at: t).result == .failsToMeetPolicy(AttestationError(.nonceMismatch, "")))
    }

    @Test func freshnessIsJudgedAtTheValidationTime() {
        let doc = Self.document(timestamp: 1_000_000)
        let policy = AttestationPolicy(maxAge: 300_000, allowedSkew: 1_000)
        #expect(policy.evaluate(doc, at: 1_300_000).result == .meetsPolicy)
        #expect(policy.evaluate(doc, at: 1_300_001).result == .failsToMeetPolicy(AttestationError(.documentTooOld, "")))
        #expect(policy.evaluate(doc, at: 999_000).result == .meetsPolicy)
        #expect(policy.evaluate(doc, at: 998_999).result == .failsToMeetPolicy(AttestationError(.documentFromFuture, "")))
        // Extreme validation times do not overflow.
        #expect(policy.evaluate(doc, at: Int64.min).result == .failsToMeetPolicy(AttestationError(.documentFromFuture, "")))
        #expect(policy.evaluate(Self.document(timestamp: UInt64.max), at: Int64.max).result == .failsToMeetPolicy(AttestationError(.documentFromFuture, "")))
        #expect(policy.evaluate(doc, at: Int64.max).result == .failsToMeetPolicy(AttestationError(.documentTooOld, "")))
        // Even without a maximum age, a document from the future is refused.
        #expect(AttestationPolicy(allowedSkew: 0).evaluate(doc, at: 999_999).result == .failsToMeetPolicy(AttestationError(.documentFromFuture, "")))
    }

    @Test func debugModeIsRefusedUnlessAllowed() {
        let debug = Self.document(pcrs: [0: Self.zero, 1: Self.zero, 2: Self.zero])
        let t: Int64 = 1_700_000_000_000
        #expect(debug.isDebugMode)
        #expect(!Self.document().isDebugMode)
        #expect(!Self.document(pcrs: [0: Self.zero, 1: Self.zero]).isDebugMode, "PCR2 absent is not debug mode")
        #expect(AttestationPolicy(allowDebug: false).evaluate(debug, at: t).result == .failsToMeetPolicy(AttestationError(.debugModeNotAllowed, "")))
        #expect(AttestationPolicy(allowDebug: true).evaluate(debug, at: t).result == .meetsPolicy)
        guard case .notChecked? = outcome(AttestationPolicy().evaluate(debug, at: t), "debug") else {
            Issue.record("debug without a policy must be reported as not checked")
            return
        }
    }

    @Test func realDebugDocumentIsRefusedByAManifestPolicy() throws {
        guard !Corpus.real.isEmpty else {
            print("SKIP: \(Corpus.skipMessage)")
            return
        }
        let verifier = AttestationVerifier()
        for url in Corpus.real {
            let doc = try Corpus.bytes(url)
            let v = try verifier.verify(doc, at: .documentTimestamp)
            let manifest = TrustManifest(pcrs: v.document.pcrs.filter { $0.key <= 2 })
            let expected: AttestationPolicy.Result = v.document.isDebugMode
                ? .failsToMeetPolicy(AttestationError(.debugModeNotAllowed, "")) : .meetsPolicy
            #expect(manifest.policy().evaluate(v).result == expected, "\(url.lastPathComponent)")
            #expect(manifest.policy(allowDebugOverride: true).evaluate(v).result == .meetsPolicy)
        }
    }
}
