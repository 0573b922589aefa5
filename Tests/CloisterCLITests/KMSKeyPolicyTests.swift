import AWSKMS
import Foundation
import NitroAttestation
import Testing

@testable import cloister

@Suite struct KMSKeyPolicyTests {
    static let role = "arn:aws:iam::111122223333:role/enclave"
    static let admin = "arn:aws:iam::111122223333:role/key-admin"

    static func pcr(_ byte: UInt8, count: Int = 48) -> [UInt8] { [UInt8](repeating: byte, count: count) }
    static func hex(_ byte: UInt8) -> String { String(repeating: String(format: "%02x", byte), count: 48) }
    static let image: [Int: [UInt8]] = [0: pcr(0xA0), 1: pcr(0xA1), 2: pcr(0xA2)]

    static func policy(_ trust: TrustManifest, role: String = role, admin: String = admin, keyARN: String? = nil) throws -> KMSKeyPolicy {
        try KMSKeyPolicy(trust: trust, role: role, admin: admin, keyARN: keyARN)
    }

    @Test func oneBuildGivesAdministrationEncryptAndAttestedDecrypt() throws {
        let p = try Self.policy(TrustManifest(pcrs: Self.image))
        #expect(p.statement.map(\.sid) == ["Administration", "EnclaveEncrypt", "EnclaveDecrypt"])
        #expect(p.statement.allSatisfy { $0.effect == "Allow" && $0.resource == "*" })
        #expect(p.statement[0].principal.aws == Self.admin)
        #expect(p.statement[0].action == KMSKeyPolicy.administrationActions)
        #expect(p.statement[0].condition == nil)
        #expect(p.statement[1].principal.aws == Self.role)
        #expect(p.statement[1].action == ["kms:Encrypt"])
        #expect(p.statement[1].condition == nil)
        #expect(p.statement[2].action == ["kms:Decrypt"])
        #expect(
            p.statement[2].condition == [
                "StringEqualsIgnoreCase": [
                    "kms:RecipientAttestation:PCR0": Self.hex(0xA0), "kms:RecipientAttestation:PCR1": Self.hex(0xA1),
                    "kms:RecipientAttestation:PCR2": Self.hex(0xA2), "kms:RecipientAttestation:ImageSha384": Self.hex(0xA0),
                ]
            ])
    }

    @Test func oneDecryptStatementPerAuthorisedBuild() throws {
        let signed: [Int: [UInt8]] = [8: Self.pcr(0xC8)]
        let upgrade: [Int: [UInt8]] = [0: Self.pcr(0xB0), 1: Self.pcr(0xB1), 2: Self.pcr(0xB2), 8: Self.pcr(0xB8)]
        // The manifest's own pins repeated in builds give one statement, not two.
        let p = try Self.policy(TrustManifest(pcrs: Self.image, builds: [signed, upgrade, Self.image]))
        #expect(p.statement.map(\.sid) == ["Administration", "EnclaveEncrypt", "EnclaveDecrypt1", "EnclaveDecrypt2", "EnclaveDecrypt3"])
        let conditions = p.statement.dropFirst(2).map { $0.condition?["StringEqualsIgnoreCase"] ?? [:] }
        #expect(conditions[0]["kms:RecipientAttestation:PCR0"] == Self.hex(0xA0))
        #expect(conditions[1] == ["kms:RecipientAttestation:PCR8": Self.hex(0xC8)])
        #expect(conditions[2].count == 5)
        #expect(conditions[2]["kms:RecipientAttestation:PCR8"] == Self.hex(0xB8))
        #expect(conditions[2]["kms:RecipientAttestation:ImageSha384"] == Self.hex(0xB0))
    }

    @Test func buildsAloneNeedNoTopLevelPins() throws {
        let p = try Self.policy(TrustManifest(pcrs: [:], builds: [[8: Self.pcr(0xC8)]]))
        #expect(p.statement.map(\.sid) == ["Administration", "EnclaveEncrypt", "EnclaveDecrypt"])
    }

    /// The role's statements, whatever the builds: Encrypt, and Decrypt only under attestation conditions.
    @Test func theRoleGetsNothingElse() throws {
        let p = try Self.policy(TrustManifest(pcrs: Self.image, builds: [[8: Self.pcr(0xC8)], [0: Self.pcr(1), 1: Self.pcr(2), 2: Self.pcr(3), 4: Self.pcr(4)]]))
        let roles = p.statement.filter { $0.principal.aws == Self.role }
        #expect(roles.count == 4)
        for s in roles {
            #expect(s.action == ["kms:Encrypt"] || s.action == ["kms:Decrypt"], "\(s.sid): \(s.action)")
            guard s.action == ["kms:Decrypt"] else { continue }
            let keys = Set(s.condition?["StringEqualsIgnoreCase"]?.keys.map { $0 } ?? [])
            let image = ["PCR0", "PCR1", "PCR2"].allSatisfy { keys.contains("kms:RecipientAttestation:\($0)") }
            #expect(image || keys.contains("kms:RecipientAttestation:PCR8"), "\(s.sid) is not pinned: \(keys)")
            #expect(s.condition?.count == 1)
        }
    }

    @Test func keyARNNarrowsResource() throws {
        let key = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        let p = try Self.policy(TrustManifest(pcrs: Self.image), keyARN: key)
        #expect(p.statement[0].resource == "*")
        #expect(p.statement.dropFirst().allSatisfy { $0.resource == key })
    }

    @Test func jsonIsSortedPrettyAndUnescaped() throws {
        let p = try Self.policy(TrustManifest(pcrs: Self.image, builds: [[8: Self.pcr(0xC8)]]))
        let text = String(decoding: p.json(), as: UTF8.self)
        #expect(text.contains("\"AWS\" : \"arn:aws:iam::111122223333:role/enclave\""))
        #expect(text.hasPrefix("{\n  \"Statement\" : ["))
        #expect(p.json() == (try Self.policy(TrustManifest(pcrs: Self.image, builds: [[8: Self.pcr(0xC8)]]))).json())
        let object = try #require(try JSONSerialization.jsonObject(with: p.json()) as? [String: Any])
        #expect(object["Version"] as? String == "2012-10-17")
        #expect((object["Statement"] as? [[String: Any]])?.count == 4)
    }

    @Test(arguments: [
        "arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:role/ops/key-admin",
        "arn:aws-us-gov:iam::111122223333:role/a+b=c,d.e@f_g-h",
    ])
    func acceptsAdministrators(_ arn: String) throws {
        #expect(try Self.policy(TrustManifest(pcrs: Self.image), admin: arn).statement[0].principal.aws == arn)
    }

    struct Refusal: Sendable, CustomStringConvertible {
        var description: String
        var trust: TrustManifest = TrustManifest(pcrs: KMSKeyPolicyTests.image)
        var role = KMSKeyPolicyTests.role
        var admin = KMSKeyPolicyTests.admin
        var keyARN: String?
        var expect: KMSPolicyErrorCode
    }

    static let refusals: [Refusal] = [
        Refusal(description: "role not an ARN", role: "enclave", expect: .invalidPrincipalARN),
        Refusal(description: "role in s3", role: "arn:aws:s3:::bucket", expect: .invalidPrincipalARN),
        Refusal(description: "short account", role: "arn:aws:iam::11112222333:role/enclave", expect: .invalidPrincipalARN),
        Refusal(description: "region in an IAM ARN", role: "arn:aws:iam:us-east-1:111122223333:role/enclave", expect: .invalidPrincipalARN),
        Refusal(description: "assumed-role session", role: "arn:aws:sts::111122223333:assumed-role/enclave/i-0abc", expect: .invalidPrincipalARN),
        Refusal(description: "group", admin: "arn:aws:iam::111122223333:group/admins", expect: .invalidPrincipalARN),
        Refusal(description: "wildcard", admin: "arn:aws:iam::111122223333:role/*", expect: .invalidPrincipalARN),
        Refusal(description: "empty name", admin: "arn:aws:iam::111122223333:role/", expect: .invalidPrincipalARN),
        Refusal(description: "name over 64", admin: "arn:aws:iam::111122223333:role/" + String(repeating: "a", count: 65), expect: .invalidPrincipalARN),
        Refusal(description: "role is root", role: "arn:aws:iam::111122223333:root", expect: .enclavePrincipalIsRoot),
        Refusal(description: "role is admin", admin: KMSKeyPolicyTests.role, expect: .enclavePrincipalIsAdministrator),
        Refusal(description: "alias as key", keyARN: "arn:aws:kms:us-east-1:111122223333:alias/master", expect: .invalidKeyARN),
        Refusal(description: "key without region", keyARN: "arn:aws:kms::111122223333:key/1234", expect: .invalidKeyARN),
        Refusal(description: "PCR0 alone", trust: TrustManifest(pcrs: [0: KMSKeyPolicyTests.pcr(1)]), expect: .buildNotPinned),
        Refusal(description: "a build with PCR0-1", trust: TrustManifest(pcrs: KMSKeyPolicyTests.image, builds: [[0: pcr(1), 1: pcr(2)]]), expect: .buildNotPinned),
        Refusal(description: "PCR3 and PCR4", trust: TrustManifest(pcrs: [3: KMSKeyPolicyTests.pcr(3), 4: KMSKeyPolicyTests.pcr(4)]), expect: .buildNotPinned),
        Refusal(description: "32-byte PCR8", trust: TrustManifest(pcrs: [:], builds: [[8: pcr(8, count: 32)]]), expect: .pcrLength),
    ]

    @Test(arguments: refusals)
    func refuses(_ r: Refusal) {
        #expect(throws: KMSPolicyError(r.expect, "")) { try Self.policy(r.trust, role: r.role, admin: r.admin, keyARN: r.keyARN) }
    }
}
