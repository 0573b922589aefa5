import CloisterClient
import Foundation
import NitroAttestation
import SecureModule
import Testing

@testable import KeyService

/// `key.encrypt`, `decrypt` and `rewrap` in process: new ciphertexts are XAES-256-GCM (`cloister:xaes:vN:`),
/// ciphertexts of the earlier AES-256-GCM format (`cloister:vN:`) still decrypt, and an altered or hostile
/// ciphertext is refused with its code.
@Suite struct DataEncryptionTests {
    /// Key material of the `archive` key of tenant `acme`, version by version (test fixtures, not secrets).
    static let material: [UInt64: [UInt8]] = [1: (0..<32).map { 0x40 + $0 }, 2: (0..<32).map { 0x80 + $0 }]

    /// The `archive` key: both versions of the fixture material.
    static let archive = KeyRecord(
        type: .aes256GCM, versions: material.keys.sorted().map { KeyRecord.Version(number: $0, material: material[$0]!, created: $0) }, created: 1)

    /// A legacy ciphertext and what it holds.
    struct Legacy: Sendable, CustomTestStringConvertible {
        let ciphertext: String
        let plaintext: String
        let context: String?
        var testDescription: String { String(ciphertext.prefix(16)) }
    }

    /// Written by `key.encrypt` before XAES-256-GCM (the key service at ab50547) for `acme`'s `archive` key with
    /// the material above: version 1 alone, then versions 1 and 2.
    static let legacy = [
        Legacy(ciphertext: "cloister:v1:JL9s1Iy/3nEUDVIDcf0GGxElO6I0Q7GBtSf/t4J8XHQNNsLqjd0n5709Ocs=", plaintext: "invoice 2024-117", context: "order-1"),
        Legacy(ciphertext: "cloister:v2:Uavgj27OeLo297wGv2Xzg13QrBNUzUmmFdb/Xg==", plaintext: "", context: nil),
        Legacy(
            ciphertext: "cloister:v2:oY0SRJOgv9TQTd29GecSucmTC5QQ8jOA2QgztOeEc/gPjJmp1ueIYAOBxVgAb0S7ArzCaLozMg==",
            plaintext: "kept since the first format", context: nil),
    ]

    /// An enclave whose tenant `acme` has a credential and the `archive` key with the fixture material.
    static func enclave() async throws -> (ActionTests.Enclave, CredentialKey) {
        let e = try await ActionTests.Enclave()
        let key = try CredentialKey.generate(.ed25519)
        _ = try await e.register(key)
        _ = try await e.workload.vault.update("acme", "archive") { _ in archive }
        try await e.workload.vault.updateNames("acme") { _ in ["archive"] }
        return (e, key)
    }

    static func body(_ ciphertext: String, context: String?) -> [String: Any] {
        var body: [String: Any] = ["name": "archive", "ciphertext": ciphertext]
        if let context { body["context"] = Data(context.utf8).base64EncodedString() }
        return body
    }

    /// The status of a refused call, or "ok".
    static func status(_ e: ActionTests.Enclave, _ op: String, _ body: [String: Any], by key: CredentialKey) async throws -> String {
        do {
            _ = try await e.ok(op, body, by: key)
            return "ok"
        } catch let refused as ActionTests.Refused { return refused.status }
    }

    @Test(arguments: legacy)
    func aCiphertextOfTheEarlierFormatStillDecrypts(_ old: Legacy) async throws {
        let (e, key) = try await Self.enclave()
        let opened = try await e.ok("key.decrypt", Self.body(old.ciphertext, context: old.context), by: key)
        #expect(opened["plaintext"] as? String == Data(old.plaintext.utf8).base64EncodedString())
        // Rewrapped, it moves to the new format under the latest version.
        let rewrapped = try await e.ok("key.rewrap", Self.body(old.ciphertext, context: old.context), by: key)
        let text = try #require(rewrapped["ciphertext"] as? String)
        #expect(text.hasPrefix("cloister:xaes:v2:"))
        let again = try await e.ok("key.decrypt", Self.body(text, context: old.context), by: key)
        #expect(again["plaintext"] as? String == Data(old.plaintext.utf8).base64EncodedString())
    }

    /// What `key.encrypt` writes is XAES-256-GCM by the spec, under the latest version's material, with the data AAD.
    @Test func newCiphertextsAreXAESUnderTheLatestVersion() async throws {
        let (e, key) = try await Self.enclave()
        let plaintext = Array("four digits: 4071".utf8)
        let context = Array("order-2".utf8)
        let encrypted = try await e.ok(
            "key.encrypt", ["name": "archive", "plaintext": Data(plaintext).base64EncodedString(), "context": Data(context).base64EncodedString()], by: key)
        #expect(encrypted["version"] as? Int == 2)
        let text = try #require(encrypted["ciphertext"] as? String)
        #expect(text.hasPrefix("cloister:xaes:v2:"))
        let parsed = try DataCiphertext(parsing: text)
        #expect(parsed.scheme == .xaes256GCM && parsed.nonce.count == 24 && parsed.sealed.count == plaintext.count + 16)
        let aad = KeyServiceWorkload.dataAAD("acme", "archive", 2, context)
        #expect(try XAES256GCM.open(parsed.sealed, key: Self.material[2]!, nonce: parsed.nonce, aad: aad) == plaintext)
        // A fresh nonce each time.
        let second = try await e.ok("key.encrypt", ["name": "archive", "plaintext": Data(plaintext).base64EncodedString()], by: key)
        #expect(try DataCiphertext(parsing: try #require(second["ciphertext"] as? String)).nonce != parsed.nonce)
    }

    /// Altered bytes, another version, another context and a changed prefix are all refused; the host learns nothing
    /// more than the code.
    @Test func anAlteredCiphertextIsRefused() async throws {
        let (e, key) = try await Self.enclave()
        let encrypted = try await e.ok("key.encrypt", ["name": "archive", "plaintext": Data("pay 10 to bob".utf8).base64EncodedString()], by: key)
        let good = try DataCiphertext(parsing: try #require(encrypted["ciphertext"] as? String))
        func altered(scheme: DataCiphertext.Scheme? = nil, version: UInt64? = nil, nonce: [UInt8]? = nil, sealed: [UInt8]? = nil) -> String {
            DataCiphertext(scheme: scheme ?? good.scheme, version: version ?? good.version, nonce: nonce ?? good.nonce, sealed: sealed ?? good.sealed).text
        }
        func flip(_ bytes: [UInt8], at index: Int) -> [UInt8] {
            var out = bytes
            out[(index + out.count) % out.count] ^= 0x01
            return out
        }
        let cases: [(String, String, String)] = [
            ("first nonce byte (the derived key)", altered(nonce: flip(good.nonce, at: 0)), "invalidCiphertext"),
            ("last nonce byte (AES-GCM's nonce)", altered(nonce: flip(good.nonce, at: -1)), "invalidCiphertext"),
            ("ciphertext", altered(sealed: flip(good.sealed, at: 0)), "invalidCiphertext"),
            ("tag", altered(sealed: flip(good.sealed, at: -1)), "invalidCiphertext"),
            ("a byte fewer", altered(sealed: Array(good.sealed.dropLast())), "invalidCiphertext"),
            ("another version of the key", altered(version: 1), "invalidCiphertext"),
            ("a version the key does not have", altered(version: 9), "unknownVersion"),
            // The same bytes read as the earlier format: the first 12 as an AES-256-GCM nonce.
            ("the earlier prefix", "cloister:v2:" + Base64.encode(good.nonce + good.sealed), "invalidCiphertext"),
            ("another scheme", good.text.replacingOccurrences(of: "cloister:xaes:", with: "cloister:xaes2:"), "invalidCiphertext"),
            ("no prefix", Base64.encode(good.nonce + good.sealed), "invalidCiphertext"),
        ]
        for (what, text, code) in cases {
            #expect(try await Self.status(e, "key.decrypt", Self.body(text, context: nil), by: key) == code, "\(what)")
        }
        #expect(try await Self.status(e, "key.decrypt", Self.body(good.text, context: "order-1"), by: key) == "invalidCiphertext")
        #expect(try await Self.status(e, "key.decrypt", Self.body(good.text, context: nil), by: key) == "ok")
        // The same material under another name, or in another tenant, does not open it: the AAD names both.
        for (tenant, name) in [("acme", "archive-copy"), ("other", "archive")] {
            if tenant == "other" { _ = try await e.register(key, tenant: tenant) }
            _ = try await e.workload.vault.update(tenant, name) { _ in Self.archive }
            let (job, _) = try e.call("key.decrypt", ["name": name, "ciphertext": good.text], tenant: tenant, by: key)
            #expect(await e.run(job).status == "invalidCiphertext", "\(tenant)/\(name)")
        }
        // A legacy ciphertext read as XAES (its 12-byte nonce is too short for one) does not open either.
        let old = Self.legacy[2].ciphertext.replacingOccurrences(of: "cloister:v2:", with: "cloister:xaes:v2:")
        #expect(try await Self.status(e, "key.decrypt", Self.body(old, context: nil), by: key) == "invalidCiphertext")
        // Once version 2 is the minimum, its ciphertexts of either format still open; version 1's are retired.
        _ = try await e.ok("key.configure", ["name": "archive", "minDecryptionVersion": 2], by: key)
        #expect(try await Self.status(e, "key.decrypt", Self.body(Self.legacy[0].ciphertext, context: "order-1"), by: key) == "versionRetired")
        #expect(try await Self.status(e, "key.decrypt", Self.body(Self.legacy[2].ciphertext, context: nil), by: key) == "ok")
    }

    /// Hostile strings reach the parser through the service and come back as `invalidCiphertext`, naming the rule.
    @Test(arguments: [
        ("", DataCiphertextErrorCode.malformed), ("cloister:xaes:v1:AAAA", .truncated), ("cloister:xaes:v01:AAAA", .badVersion),
        ("cloister:xaes:v1:A", .badBase64), ("cloister:gcm:v1:AAAA", .unknownScheme),
    ])
    func aHostileStringIsRefusedThroughTheService(text: String, rule: DataCiphertextErrorCode) async throws {
        let (e, key) = try await Self.enclave()
        do {
            _ = try await e.ok("key.decrypt", Self.body(text, context: nil), by: key)
            Issue.record("\(text) opened")
        } catch let refused as ActionTests.Refused {
            #expect(refused.status == "invalidCiphertext")
            #expect(refused.message.contains(rule.rawValue))
        }
    }
}
