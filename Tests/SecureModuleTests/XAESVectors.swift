import Foundation
import Testing

/// The XAES-256-GCM known answers of the C2SP spec (c2sp.org/XAES-256-GCM, "Test vectors" and "Accumulated
/// randomized tests"), as Vectors/xaes-256-gcm.json keeps them: the file's `source` names the commit. Byte fields
/// are hex in the file.
struct XAESVectors: Decodable, Sendable {
    /// One vector, with every intermediate value the spec prints.
    struct Vector: Decodable, Sendable, CustomTestStringConvertible {
        let comment: String
        let key, nonce, l, k1, m1, m2, kx, nx, plaintext, aad, ciphertext: [UInt8]

        var testDescription: String { comment }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            comment = try c.decode(String.self, forKey: .comment)
            (key, nonce, l, k1) = (try c.hex(.key), try c.hex(.nonce), try c.hex(.l), try c.hex(.k1))
            (m1, m2, kx, nx) = (try c.hex(.m1), try c.hex(.m2), try c.hex(.kx), try c.hex(.nx))
            (plaintext, aad, ciphertext) = (try c.hex(.plaintext), try c.hex(.aad), try c.hex(.ciphertext))
        }

        enum CodingKeys: String, CodingKey {
            case comment, key, nonce, plaintext, aad, ciphertext
            case l = "L", k1 = "K1", m1 = "M1", m2 = "M2", kx = "Kx", nx = "Nx"
        }
    }

    /// The hash of the spec's accumulated test after `iterations`.
    struct Accumulated: Decodable, Sendable {
        let iterations: Int
        let hash: String
    }

    let source: String
    let vectors: [Vector]
    let accumulated: [Accumulated]

    /// Vectors/xaes-256-gcm.json.
    static func load() throws -> XAESVectors {
        guard let url = Bundle.module.url(forResource: "xaes-256-gcm", withExtension: "json", subdirectory: "Vectors") else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "Vectors/xaes-256-gcm.json"])
        }
        return try JSONDecoder().decode(XAESVectors.self, from: Data(contentsOf: url))
    }

    /// The expected hash after `iterations`, or a test failure if the file has none.
    func hash(after iterations: Int) throws -> String {
        try #require(accumulated.first { $0.iterations == iterations }, "no accumulated hash for \(iterations)").hash
    }
}
