import Foundation
import NitroAttestation
import Testing

/// One entry of the RFC 9180 appendix A test vectors, as the CFRG publishes them (test-vectors.json, the copy
/// swift-crypto ships in Tests/CryptoTests/HPKE/hpke-test-vectors.json). Vectors/ keeps only the entries for
/// mode 0 (base) with suite 0x0020/0x0001/0x0002, and of each entry's encryptions the sequence numbers
/// appendix A.3.1.1 prints, with `seq` their index in the CFRG list. Byte fields are hex in the file.
struct HPKEVector: Decodable, Sendable, CustomTestStringConvertible {
    struct Encryption: Decodable, Sendable {
        let seq: UInt64
        let aad, ct, nonce, pt: [UInt8]

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            seq = try c.decode(UInt64.self, forKey: .seq)
            (aad, ct, nonce, pt) = (try c.hex(.aad), try c.hex(.ct), try c.hex(.nonce), try c.hex(.pt))
        }

        enum CodingKeys: String, CodingKey { case seq, aad, ct, nonce, pt }
    }

    let mode, kemID, kdfID, aeadID: Int
    let info, ikmE, pkEm, skEm, ikmR, pkRm, skRm, enc, sharedSecret, key, baseNonce: [UInt8]
    let encryptions: [Encryption]

    var testDescription: String { "mode \(mode) suite \(kemID)/\(kdfID)/\(aeadID) info \(Hex.encode(info))" }

    /// The message with sequence number `seq`, or a test failure if the vector does not carry it.
    func encryption(seq: UInt64) throws -> Encryption { try #require(encryptions.first { $0.seq == seq }, "no seq \(seq)") }

    /// Every vector in Vectors/hpke-base-x25519-sha256-aes256gcm.json.
    static func load() throws -> [HPKEVector] {
        let name = "hpke-base-x25519-sha256-aes256gcm"
        guard let url = Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Vectors") else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "Vectors/\(name).json"])
        }
        return try JSONDecoder().decode([HPKEVector].self, from: Data(contentsOf: url))
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        mode = try c.decode(Int.self, forKey: .mode)
        kemID = try c.decode(Int.self, forKey: .kemID)
        kdfID = try c.decode(Int.self, forKey: .kdfID)
        aeadID = try c.decode(Int.self, forKey: .aeadID)
        (info, ikmE, pkEm, skEm) = (try c.hex(.info), try c.hex(.ikmE), try c.hex(.pkEm), try c.hex(.skEm))
        (ikmR, pkRm, skRm, enc) = (try c.hex(.ikmR), try c.hex(.pkRm), try c.hex(.skRm), try c.hex(.enc))
        (sharedSecret, key, baseNonce) = (try c.hex(.sharedSecret), try c.hex(.key), try c.hex(.baseNonce))
        encryptions = try c.decode([Encryption].self, forKey: .encryptions)
    }

    enum CodingKeys: String, CodingKey {
        case mode, info, ikmE, pkEm, skEm, ikmR, pkRm, skRm, enc, key, encryptions
        case kemID = "kem_id", kdfID = "kdf_id", aeadID = "aead_id"
        case sharedSecret = "shared_secret", baseNonce = "base_nonce"
    }
}

extension KeyedDecodingContainer {
    /// The bytes of the hex string at `key` (the vector files' byte fields).
    func hex(_ key: Key) throws -> [UInt8] {
        let text = try decode(String.self, forKey: key)
        guard let bytes = Hex.decode(text) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "not hex: \(text.prefix(16))")
        }
        return bytes
    }
}
