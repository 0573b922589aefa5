import Foundation
import NitroAttestation
import Testing

@testable import SecureModule

/// XAES256GCM against the C2SP spec's known answers (Vectors/xaes-256-gcm.json: c2sp.org/XAES-256-GCM, "Test
/// vectors" and "Accumulated randomized tests"; see `XAESVectors`), and its refusals, each by its code.
@Suite struct XAES256GCMTests {
    static let spec = try! XAESVectors.load()

    @Test(arguments: spec.vectors)
    func theSpecsVectorsDeriveEveryIntermediateValue(vector: XAESVectors.Vector) throws {
        let l = try XAES256GCM.encryptBlocks([UInt8](repeating: 0, count: 16), key: vector.key)
        #expect(l == vector.l)
        #expect(XAES256GCM.cmacSubkey(l) == vector.k1)
        #expect(XAES256GCM.kdfInput(counter: 1, nonce: vector.nonce) == vector.m1)
        #expect(XAES256GCM.kdfInput(counter: 2, nonce: vector.nonce) == vector.m2)
        let derived = try XAES256GCM.derive(key: vector.key, nonce: vector.nonce)
        #expect(derived.key == vector.kx)
        #expect(derived.nonce == vector.nx)
    }

    @Test(arguments: spec.vectors)
    func theSpecsVectorsSealAndOpen(vector: XAESVectors.Vector) throws {
        #expect(try XAES256GCM.seal(vector.plaintext, key: vector.key, nonce: vector.nonce, aad: vector.aad) == vector.ciphertext)
        #expect(try XAES256GCM.open(vector.ciphertext, key: vector.key, nonce: vector.nonce, aad: vector.aad) == vector.plaintext)
    }

    /// The two vectors are the spec's two cases of the subkey's reduction (the top bit of L clear, then set).
    @Test func theVectorsCoverBothCasesOfTheSubkeyReduction() {
        #expect(Self.spec.vectors.map { $0.l[0] >> 7 } == [0, 1])
    }

    /// K1 agrees with the definition in NIST SP 800-38B 6.1, written here with the branch the implementation avoids.
    @Test func theSubkeyIsLDoubledForEveryTopBit() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<512 {
            let l = (0..<16).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
            var shifted = (0..<16).map { i in l[i] << 1 | (i < 15 ? l[i + 1] >> 7 : 0) }
            if l[0] & 0x80 != 0 { shifted[15] ^= 0x87 }
            #expect(XAES256GCM.cmacSubkey(l) == shifted)
        }
    }

    @Test func theAccumulatedTestMatchesTheSpecAfterTenThousandIterations() throws {
        #expect(try Self.accumulated(10_000) == Hex.decode(try Self.spec.hash(after: 10_000)))
    }

    // The 1,000,000-iteration vector (half a gigabyte of generator output) is Scripts/xaes-accumulated's, not a test's.

    @Test(arguments: [0, 1, 16, 24, 31, 33, 64])
    func aKeyOfAnotherSizeIsRefused(size: Int) {
        let key = [UInt8](repeating: 7, count: size)
        #expect(throws: XAESError(.keySize, "")) { try XAES256GCM.seal([1], key: key, nonce: Self.nonce) }
        #expect(throws: XAESError(.keySize, "")) { try XAES256GCM.open(Self.sealed, key: key, nonce: Self.nonce) }
    }

    @Test(arguments: [0, 1, 12, 16, 23, 25, 32])
    func aNonceOfAnotherSizeIsRefused(size: Int) {
        let nonce = [UInt8](repeating: 7, count: size)
        #expect(throws: XAESError(.nonceSize, "")) { try XAES256GCM.seal([1], key: Self.key, nonce: nonce) }
        #expect(throws: XAESError(.nonceSize, "")) { try XAES256GCM.open(Self.sealed, key: Self.key, nonce: nonce) }
    }

    @Test(arguments: 0..<16)
    func sealedBytesShorterThanATagAreTruncated(size: Int) {
        #expect(throws: XAESError(.truncated, "")) { try XAES256GCM.open(Array(Self.sealed.prefix(size)), key: Self.key, nonce: Self.nonce) }
    }

    /// Every bit of the nonce, the ciphertext, the tag and the associated data matters, and so does the key.
    @Test func anyAlteredBitFailsAuthentication() throws {
        #expect(try XAES256GCM.open(Self.sealed, key: Self.key, nonce: Self.nonce, aad: Self.aad) == Self.plaintext)
        func refused(_ sealed: [UInt8], key: [UInt8] = Self.key, nonce: [UInt8] = Self.nonce, aad: [UInt8] = Self.aad) -> Bool {
            do {
                _ = try XAES256GCM.open(sealed, key: key, nonce: nonce, aad: aad)
                return false
            } catch { return error.code == .authenticationFailed }
        }
        for bit in 0..<(Self.nonce.count * 8) { #expect(refused(Self.sealed, nonce: Self.flip(Self.nonce, bit)), "nonce bit \(bit)") }
        for bit in 0..<(Self.sealed.count * 8) { #expect(refused(Self.flip(Self.sealed, bit)), "ciphertext or tag bit \(bit)") }
        for bit in 0..<(Self.aad.count * 8) { #expect(refused(Self.sealed, aad: Self.flip(Self.aad, bit)), "aad bit \(bit)") }
        #expect(refused(Self.sealed, key: Self.flip(Self.key, 255)))
        #expect(refused(Self.sealed, aad: []))
        #expect(refused(Array(Self.sealed.dropFirst())))
        #expect(refused(Self.sealed + [0]))
    }

    /// Two messages under one key and random nonces: different nonces, different keys derived, both open.
    @Test func randomNoncesGiveEachMessageItsOwnKey() throws {
        let (a, b) = (Random.bytes(XAES256GCM.nonceSize), Random.bytes(XAES256GCM.nonceSize))
        #expect(try XAES256GCM.derive(key: Self.key, nonce: a).key != XAES256GCM.derive(key: Self.key, nonce: b).key)
        // Only the first half of the nonce goes into the key; the second is AES-GCM's nonce.
        let sameHalf = Array(a.prefix(12)) + b.suffix(12)
        #expect(try XAES256GCM.derive(key: Self.key, nonce: sameHalf).key == XAES256GCM.derive(key: Self.key, nonce: a).key)
        for nonce in [a, b] {
            let sealed = try XAES256GCM.seal(Self.plaintext, key: Self.key, nonce: nonce)
            #expect(try XAES256GCM.open(sealed, key: Self.key, nonce: nonce) == Self.plaintext)
        }
    }

    static let key = (0..<32).map { UInt8($0) }
    static let nonce = Array("cloister xaes nonce 24by".utf8)
    static let aad = Array("aad".utf8)
    static let plaintext = Array("attack at dawn".utf8)
    static let sealed = try! XAES256GCM.seal(plaintext, key: key, nonce: nonce, aad: aad)

    static func flip(_ bytes: [UInt8], _ bit: Int) -> [UInt8] {
        var out = bytes
        out[bit / 8] ^= 1 << UInt8(bit % 8)
        return out
    }

    /// The spec's accumulated test: each iteration reads a key, a nonce, a plaintext and associated data (each with
    /// a one-byte length, as RFC 8446 presents `opaque x<0..255>`) from SHAKE-128 of nothing, seals, checks that
    /// the result opens, and absorbs the ciphertext into a second SHAKE-128; the result is its first 32 bytes.
    static func accumulated(_ iterations: Int) throws -> [UInt8] {
        // An iteration reads at most 32 + 24 + 1 + 255 + 1 + 255 bytes.
        let stream = Shake128().finish(iterations * 568)
        var at = 0
        func read(_ count: Int) -> [UInt8] {
            defer { at += count }
            return Array(stream[at..<(at + count)])
        }
        let hash = Shake128()
        for i in 0..<iterations {
            let (key, nonce) = (read(32), read(24))
            let plaintext = read(Int(read(1)[0]))
            let aad = read(Int(read(1)[0]))
            let sealed = try XAES256GCM.seal(plaintext, key: key, nonce: nonce, aad: aad)
            let opened = try XAES256GCM.open(sealed, key: key, nonce: nonce, aad: aad)
            try #require(opened == plaintext, "iteration \(i) did not open to its plaintext")
            hash.update(sealed)
        }
        return hash.finish(32)
    }
}
