import Testing

@testable import NitroAttestation

@Suite struct ChainValidationTests {
    /// Validity is judged in milliseconds at both ends of the chain's common window.
    @Test func validityEdgesAreExactToTheMillisecond() throws {
        guard !Corpus.real.isEmpty else {
            print("SKIP: \(Corpus.skipMessage)")
            return
        }
        for url in Corpus.real {
            let doc = try Corpus.bytes(url)
            let chain = try AttestationVerifier(cache: nil).verify(doc, at: .documentTimestamp).chain.certificates
            let from = chain.map(\.notBefore).max()!
            let until = chain.map(\.notAfter).min()!
            let verifier = AttestationVerifier()
            #expect(throws: Never.self) { try verifier.verify(doc, at: .instant(milliseconds: from)) }
            #expect(throws: Never.self) { try verifier.verify(doc, at: .instant(milliseconds: until)) }
            #expect(throws: AttestationError(.certificateNotYetValid, "")) { try verifier.verify(doc, at: .instant(milliseconds: from - 1)) }
            #expect(throws: AttestationError(.certificateExpired, "")) { try verifier.verify(doc, at: .instant(milliseconds: until + 1)) }
        }
    }

    /// Some documents are stamped less than a second after their leaf's notBefore: a whole-second comparison
    /// that rounded the timestamp up would refuse them, one that rounded down would accept a millisecond too early.
    @Test func subSecondTimestampsAfterNotBeforeVerify() throws {
        var found = 0
        for url in Corpus.real {
            let doc = try Corpus.bytes(url)
            let v = try AttestationVerifier(cache: nil).verify(doc, at: .documentTimestamp)
            if Int64(v.document.timestamp) - v.chain.leaf.notBefore < 1000 { found += 1 }
        }
        if Corpus.real.isEmpty { print("SKIP: \(Corpus.skipMessage)") }
        else { #expect(found > 0, "the corpus README promises such documents") }
    }

    @Test func warmVerificationChecksNoCertificateSignature() throws {
        guard let doc = Samples.any else {
            print("SKIP: \(Corpus.skipMessage)")
            return
        }
        let cache = ChainCache()
        let verifier = AttestationVerifier(cache: cache)
        #expect(try verifier.verify(doc, at: .documentTimestamp).chain.signaturesChecked == 4)
        #expect(cache.count == 4)
        #expect(try verifier.verify(doc, at: .documentTimestamp).chain.signaturesChecked == 0)
    }

    /// With the full chain gone but its CA prefix cached, only the leaf's signature is checked.
    @Test func cachedPrefixAnchorsANewLeaf() throws {
        guard let doc = Samples.any else {
            print("SKIP: \(Corpus.skipMessage)")
            return
        }
        let cache = ChainCache()
        let verifier = AttestationVerifier(cache: cache)
        let chain = try verifier.verify(doc, at: .documentTimestamp).chain.certificates
        let keys = ChainCache.prefixKeys(chain.map(\.sha256))
        cache.remove(keys[4])
        #expect(try verifier.verify(doc, at: .documentTimestamp).chain.signaturesChecked == 1)

        // A prefix whose last certificate was only ever validated as a leaf must never anchor a chain.
        cache.remove(keys[4])
        cache.insert(keys[3], .init(certificates: Array(chain[0...3]), lastIsCA: false))
        #expect(try verifier.verify(doc, at: .documentTimestamp).chain.signaturesChecked == 2)
    }

    @Test func cacheDoesNotBypassTheRootPinOrTheClock() throws {
        guard let doc = Samples.any else {
            print("SKIP: \(Corpus.skipMessage)")
            return
        }
        let cache = ChainCache()
        _ = try AttestationVerifier(cache: cache).verify(doc, at: .documentTimestamp)
        #expect(throws: AttestationError(.untrustedRoot, "")) {
            try AttestationVerifier(roots: .none, cache: cache).verify(doc, at: .documentTimestamp)
        }
        #expect(throws: AttestationError(.certificateExpired, "")) {
            try AttestationVerifier(cache: cache).verify(doc, at: .now)
        }
    }

    @Test func cacheEvictsTheOldestBeyondCapacity() {
        let cache = ChainCache(capacity: 2)
        for i in 0..<5 { cache.insert([UInt8(i)], .init(certificates: [], lastIsCA: true)) }
        #expect(cache.count == 2)
        #expect(cache.entry([4]) != nil)
        #expect(cache.entry([0]) == nil)
    }

    @Test func concurrentVerificationsAgree() async throws {
        guard let doc = Samples.any else {
            print("SKIP: \(Corpus.skipMessage)")
            return
        }
        let verifier = AttestationVerifier()
        let results = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<32 { group.addTask { (try? verifier.verify(doc, at: .documentTimestamp)) != nil } }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.count == 32 && results.allSatisfy { $0 })
    }

    @Test func pemParsingReadsEveryCertificateAndRefusesGarbage() throws {
        guard let pem = Corpus.awsRootPEM else {
            print("SKIP: \(Corpus.skipMessage)")
            return
        }
        #expect(try X509Certificate.fromPEM(pem + "\n" + pem).count == 2)
        #expect(throws: AttestationError(.certificateParseFailed, "")) { try X509Certificate.fromPEM("not a certificate") }
    }
}
