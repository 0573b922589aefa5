import Foundation

/// The JSON results of the key service, each written by the one encoder (`KeyResults.encode`): never a string
/// assembled by hand.
enum KeyResults {
    struct VersionDescription: Encodable {
        var version: UInt64
        var created: UInt64
        var publicKey: String?
    }

    struct KeyDescription: Encodable {
        var name: String
        var type: String
        var latestVersion: UInt64
        var minDecryptionVersion: UInt64
        var deletionAllowed: Bool
        var versions: [VersionDescription]
        var quorum: QuorumDescription?
    }

    struct QuorumDescription: Encodable {
        var k: Int
        var credentials: [String]
    }

    struct KeyList: Encodable { var keys: [String] }
    struct Deleted: Encodable { var deleted: String }
    struct Signed: Encodable {
        var signature: String
        var version: UInt64
        var publicKey: String
    }
    struct Verified: Encodable {
        var valid: Bool
        var version: UInt64
    }
    struct Encrypted: Encodable {
        var ciphertext: String
        var version: UInt64
    }
    struct Decrypted: Encodable { var plaintext: String }

    struct CredentialDescription: Encodable {
        var id: String
        var kind: String
        var publicKey: String
        var label: String?
        var added: UInt64
        var revoked: UInt64?
        /// A passkey's WebAuthn credential id (base64), for `allowCredentials`.
        var webauthnId: String?
        var signCount: UInt32?
    }

    struct Credentials: Encodable {
        /// Hex of the tenant's root credential id.
        var root: String
        var credentials: [CredentialDescription]
    }

    /// `value` as compact JSON with sorted keys.
    static func encode(_ value: some Encodable) throws(KeyServiceError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do { return Array(try encoder.encode(value)) } catch { throw KeyServiceError("internal", "encoding the result: \(error)") }
    }
}
