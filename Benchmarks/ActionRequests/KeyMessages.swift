import Foundation

/// The key service's JSON bodies and results this benchmark uses (docs/keys.md), each with one encoder or decoder.
enum KeyMessages {
    struct CredentialAdd: Encodable {
        var kind: String
        var publicKey: String
        var label: String
    }

    struct Create: Encodable {
        var name: String
        var type: String
    }

    struct Name: Encodable { var name: String }

    struct Sign: Encodable {
        var name: String
        var input: String
    }

    struct Credentials: Decodable {
        struct Entry: Decodable {
            var id: String
            var revoked: UInt64?
        }
        var credentials: [Entry]
    }

    struct Description: Decodable {
        struct Version: Decodable {
            var version: UInt64
            var publicKey: String?
        }
        var type: String
        var latestVersion: UInt64
        var versions: [Version]
    }

    struct Signed: Decodable {
        var signature: String
        var version: UInt64
        var publicKey: String
    }

    /// One checked signature, for a verifier outside Cloister (base64 throughout).
    struct SignatureRecord: Encodable {
        var type: String
        var publicKey: String
        var message: String
        var signature: String
    }

    /// `value` as compact JSON (slashes in base64 left as they are).
    static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding these plain structs cannot fail.
        return Array(try! encoder.encode(value))
    }

    /// `bytes` as a `T`, or a failure naming `what`.
    static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], what: String) throws(BenchFailure) -> T {
        do { return try JSONDecoder().decode(type, from: Data(bytes)) } catch {
            throw BenchFailure(
                "\(what) is not the expected JSON: \(String(decoding: bytes.prefix(200), as: UTF8.self))"
            )
        }
    }
}
