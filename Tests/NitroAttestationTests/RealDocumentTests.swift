import Foundation
import Testing

@testable import NitroAttestation

/// Every real AWS document verifies at its own time and expires at today's; every invalid one fails with its code.
@Suite(.serialized) struct RealDocumentTests {
    /// What each invalid document must fail with, by file name prefix (see the corpus README).
    static let invalidExpectations: [(prefix: String, code: AttestationError.Code)] = [
        ("EternisAI-remote-attestation-verifier__invalid_attestation", .signatureInvalid),
        ("blocky-nitrite__selfsigned_attestation", .invalidUnprotectedHeader),
        ("marlinprotocol-oyster-monorepo__custom_2024", .untrustedRoot),
        ("marlinprotocol-oyster-monorepo__custom_pcr16", .untrustedRoot),
        ("signalapp-SecureValueRecovery2__TestSignatureInvalid", .signatureInvalid),
    ]

    @Test func corpusIsPresentOrSkipped() throws {
        guard Corpus.directory != nil else {
            print("SKIP: \(Corpus.skipMessage)")
            return
        }
        #expect(Corpus.real.count > 0, "the corpus directory exists but holds no real documents")
        #expect(Corpus.invalid.count > 0, "the corpus directory exists but holds no invalid documents")
    }

    @Test func awsRootFileMatchesPinnedFingerprint() throws {
        guard let pem = Corpus.awsRootPEM else {
            print("SKIP: \(Corpus.skipMessage)")
            return
        }
        let root = try #require(try X509Certificate.fromPEM(pem).first)
        #expect(root.sha256 == TrustedRoots.awsNitroRootG1Fingerprint)
        #expect(root.subject.contains("aws.nitro-enclaves"))
    }

    @Test func everyRealDocumentVerifiesAtItsOwnTime() throws {
        let files = Corpus.real
        guard !files.isEmpty else {
            print("SKIP: \(Corpus.skipMessage)")
            return
        }
        var verified = 0
        for url in files {
            let bytes = try Corpus.bytes(url)
            // Once cold (no cache) and once through a cache, twice: the warm path must agree with the cold one.
            let cold = try AttestationVerifier(cache: nil).verify(bytes, at: .documentTimestamp)
            #expect(cold.isAWSRoot)
            #expect(cold.chain.signaturesChecked == 4, "\(url.lastPathComponent)")
            let verifier = AttestationVerifier()
            _ = try verifier.verify(bytes, at: .documentTimestamp)
            let warm = try verifier.verify(bytes, at: .documentTimestamp)
            #expect(warm.chain.signaturesChecked == 0)
            #expect(warm.document == cold.document)
            verified += 1
        }
        #expect(verified == files.count)
        Corpus.report("real_documents_verified=\(verified)")
    }

    @Test func everyRealDocumentFailsTodayWithTheExpiryCode() throws {
        let files = Corpus.real
        guard !files.isEmpty else {
            print("SKIP: \(Corpus.skipMessage)")
            return
        }
        let verifier = AttestationVerifier()
        for url in files {
            let bytes = try Corpus.bytes(url)
            _ = try verifier.verify(bytes, at: .documentTimestamp)  // warm the cache: expiry must still be caught
            #expect(throws: AttestationError(.certificateExpired, "")) {
                try verifier.verify(bytes, at: .now)
            }
        }
    }

    @Test func everyInvalidDocumentFailsWithItsCode() throws {
        let files = Corpus.invalid
        guard !files.isEmpty else {
            print("SKIP: \(Corpus.skipMessage)")
            return
        }
        for url in files {
            let name = url.lastPathComponent
            let expected = try #require(Self.invalidExpectations.first { name.hasPrefix($0.prefix) }?.code, "no expectation for \(name)")
            let bytes = try Corpus.bytes(url)
            #expect(throws: AttestationError(expected, ""), "\(name)") {
                try AttestationVerifier().verify(bytes, at: .documentTimestamp)
            }
        }
        Corpus.report("invalid_documents_refused=\(files.count)")
    }

    @Test func debugDocumentsAreDetected() throws {
        let files = Corpus.real
        guard !files.isEmpty else {
            print("SKIP: \(Corpus.skipMessage)")
            return
        }
        var debug = 0
        for url in files {
            let (_, document) = try AttestationVerifier.parse(try Corpus.bytes(url))
            if document.isDebugMode { debug += 1 }
        }
        // The corpus README marks four real documents as debug mode.
        #expect(debug == 4)
    }
}
