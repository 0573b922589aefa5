import Testing

@testable import SecureModule

/// HPKEX25519 against the RFC 9180 appendix A.3.1 known answers (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
/// AES-256-GCM, base mode), taken from the CFRG's test-vectors.json as swift-crypto ships it: see `HPKEVector`.
@Suite struct HPKEVectorTests {
    @Test(arguments: try HPKEVector.load())
    func theVectorsAreForThisSuiteInBaseMode(vector: HPKEVector) {
        #expect([vector.mode, vector.kemID, vector.kdfID, vector.aeadID] == [0, 0x20, 0x01, 0x02])
        #expect(!vector.encryptions.isEmpty)
    }

    @Test(arguments: try HPKEVector.load())
    func theKeysAreThePairsTheVectorNames(vector: HPKEVector) throws {
        #expect(try X25519Key.fromRawPrivateKey(vector.skEm).publicKey == vector.pkEm)
        #expect(try X25519Key.fromRawPrivateKey(vector.skRm).publicKey == vector.pkRm)
    }

    @Test(arguments: try HPKEVector.load())
    func bothSidesDeriveTheVectorsSharedSecretKeyAndNonce(vector: HPKEVector) throws {
        let sender = try X25519Key.fromRawPrivateKey(vector.skEm).agree(with: vector.pkRm)
        let recipient = try X25519Key.fromRawPrivateKey(vector.skRm).agree(with: vector.enc)
        #expect(sender == recipient)
        let shared = HPKEX25519.sharedSecret(dh: sender, enc: vector.enc, recipient: vector.pkRm)
        #expect(shared == vector.sharedSecret)
        let (key, nonce) = HPKEX25519.schedule(shared: shared, info: vector.info)
        #expect(key == vector.key)
        #expect(nonce == vector.baseNonce)
    }

    /// Single-shot seal and open are sequence number 0: with the vector's ephemeral key, seal must give its `enc`
    /// and `ct`, and the vector's recipient must open that `ct` to its `pt`.
    @Test(arguments: try HPKEVector.load())
    func sealAndOpenReproduceTheFirstMessage(vector: HPKEVector) throws {
        let first = try vector.encryption(seq: 0)
        let ephemeral = try X25519Key.fromRawPrivateKey(vector.skEm)
        let (enc, ciphertext) = try HPKEX25519.seal(to: vector.pkRm, ephemeral: ephemeral, info: vector.info, aad: first.aad, plaintext: first.pt)
        #expect(enc == vector.enc)
        #expect(ciphertext == first.ct)
        let recipient = try X25519Key.fromRawPrivateKey(vector.skRm)
        #expect(try HPKEX25519.open(first.ct, enc: vector.enc, with: recipient, info: vector.info, aad: first.aad) == first.pt)
    }

    /// Later messages of a context are not something HPKEX25519 sends, but its key schedule must give what they
    /// need: the nonce of sequence number n is base_nonce XOR n (RFC 9180 section 5.2).
    @Test(arguments: try HPKEVector.load())
    func everySequenceNumberFollowsFromTheKeySchedule(vector: HPKEVector) throws {
        let (key, baseNonce) = HPKEX25519.schedule(shared: vector.sharedSecret, info: vector.info)
        for message in vector.encryptions {
            let nonce = Self.nonce(base: baseNonce, seq: message.seq)
            #expect(nonce == message.nonce, "seq \(message.seq)")
            #expect(try AESGCM.seal(message.pt, key: key, nonce: nonce, aad: message.aad) == message.ct, "seq \(message.seq)")
            #expect(try AESGCM.open(message.ct, key: key, nonce: nonce, aad: message.aad) == message.pt, "seq \(message.seq)")
        }
    }

    /// What the vector's recipient must refuse: each input changed in one place, and a later message's
    /// ciphertext, which single-shot open (sequence number 0) must not accept either.
    enum Mutation: String, CaseIterable, Sendable {
        case ciphertextFirstByte, tagLastByte, truncatedCiphertext, info, aad, enc, laterSequenceNumber
    }

    @Test(arguments: try HPKEVector.load(), Mutation.allCases)
    func aMutatedVectorDoesNotOpen(vector: HPKEVector, mutation: Mutation) throws {
        let first = try vector.encryption(seq: 0)
        var (ct, enc, info, aad) = (first.ct, vector.enc, vector.info, first.aad)
        switch mutation {
        case .ciphertextFirstByte: ct[0] ^= 0x01
        case .tagLastByte: ct[ct.count - 1] ^= 0x80
        case .truncatedCiphertext: ct.removeLast()
        case .info: info[info.count - 1] ^= 0x01
        case .aad: aad = Array("Count-1".utf8)
        case .enc: enc[0] ^= 0x01
        case .laterSequenceNumber:
            let later = try vector.encryption(seq: 1)
            (ct, aad) = (later.ct, later.aad)
        }
        let recipient = try X25519Key.fromRawPrivateKey(vector.skRm)
        #expect(throws: HPKEX25519.Error(reason: "cannot open: authentication failed")) {
            try HPKEX25519.open(ct, enc: enc, with: recipient, info: info, aad: aad)
        }
    }

    static func nonce(base: [UInt8], seq: UInt64) -> [UInt8] {
        var nonce = base
        for i in 0..<8 { nonce[nonce.count - 1 - i] ^= UInt8(truncatingIfNeeded: seq >> (8 * UInt64(i))) }
        return nonce
    }
}
