import Foundation
import NitroAttestation

/// The key policy for the KMS key that seals an enclave's master secret: the administrator manages the key (and
/// stays trusted: it can rewrite this policy), the enclave's role may encrypt, and may decrypt only when KMS
/// answers to a recipient attestation whose PCRs match one build the manifest authorises.
///
/// One `EnclaveDecrypt` statement per authorised build: IAM ANDs the conditions inside a statement and ORs the
/// statements, so each build must match in full. The role gets nothing else: no ReEncrypt, grants or policy changes.
public struct KMSKeyPolicy: Sendable, Hashable, Encodable {
    /// The IAM policy language version.
    public var version = "2012-10-17"
    /// The statements, in the order printed.
    public var statement: [Statement]

    enum CodingKeys: String, CodingKey {
        case version = "Version", statement = "Statement"
    }

    /// One Allow statement for one principal.
    public struct Statement: Sendable, Hashable, Encodable {
        public var sid: String
        public var effect = "Allow"
        public var principal: Principal
        public var action: [String]
        public var resource: String
        /// Operator → condition key → value; absent when the statement has no condition.
        public var condition: [String: [String: String]]?

        enum CodingKeys: String, CodingKey {
            case sid = "Sid", effect = "Effect", principal = "Principal", action = "Action", resource = "Resource"
            case condition = "Condition"
        }
    }

    /// `{"AWS": ARN}`.
    public struct Principal: Sendable, Hashable, Encodable {
        public var aws: String
        enum CodingKeys: String, CodingKey { case aws = "AWS" }
    }

    /// What the administrator may do: AWS's key-administrator set (everything but using the key).
    public static let administrationActions = [
        "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*", "kms:Disable*",
        "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
    ]
    /// PCRs a build pins in full when it is measured image by image.
    static let imagePCRs = [0, 1, 2]
    /// The PCR that pins a build by its signing certificate alone.
    static let signerPCR = 8
    /// The length of every PCR in a Nitro attestation (SHA-384).
    static let pcrLength = 48
    /// The condition operator: KMS compares the attested hex without regard to case.
    static let conditionOperator = "StringEqualsIgnoreCase"

    /// The policy for `trust`'s builds; `keyARN` narrows the enclave's statements' `Resource` from `*` (in a key
    /// policy, this key) to the ARN.
    public init(trust: TrustManifest, role: String, admin: String, keyARN: String? = nil) throws(KMSPolicyError) {
        let enclave = try IAMPrincipal(role, option: "--role")
        let administrator = try IAMPrincipal(admin, option: "--admin")
        guard !enclave.isAccountRoot else {
            throw KMSPolicyError(.enclavePrincipalIsRoot, "--role must be the enclave's role or user, not an account root (\(role))")
        }
        guard enclave.arn != administrator.arn else {
            throw KMSPolicyError(.enclavePrincipalIsAdministrator, "--role and --admin are the same principal; the enclave's role must not administer its key")
        }
        var resource = "*"
        if let keyARN { resource = try Self.checkKeyARN(keyARN) }
        let builds = try Self.builds(trust)
        var statements = [
            // The administrator's wildcards also cover actions KMS does not scope to a key ARN (CreateKey, ListKeys,
            // CreateAlias, custom key stores): "*", which in a key policy means this key, names them honestly.
            Statement(sid: "Administration", principal: Principal(aws: administrator.arn), action: Self.administrationActions, resource: "*"),
            Statement(sid: "EnclaveEncrypt", principal: Principal(aws: enclave.arn), action: ["kms:Encrypt"], resource: resource),
        ]
        for (i, build) in builds.enumerated() {
            statements.append(
                Statement(
                    sid: builds.count == 1 ? "EnclaveDecrypt" : "EnclaveDecrypt\(i + 1)", principal: Principal(aws: enclave.arn),
                    action: ["kms:Decrypt"], resource: resource, condition: [Self.conditionOperator: Self.conditions(build)]))
        }
        self.statement = statements
    }

    /// The policy for the authorised `builds` (PCR pin sets), as for a manifest that lists them.
    public init(builds: [[Int: [UInt8]]], role: String, admin: String, keyARN: String? = nil) throws(KMSPolicyError) {
        try self.init(trust: TrustManifest(pcrs: [:], builds: builds), role: role, admin: admin, keyARN: keyARN)
    }

    /// The authorised builds: the manifest's own pins first (when it has any), then each of `builds`, duplicates
    /// dropped; each must pin PCR0-2 or PCR8, with 48-byte values.
    static func builds(_ trust: TrustManifest) throws(KMSPolicyError) -> [[Int: [UInt8]]] {
        var all: [(name: String, pins: [Int: [UInt8]])] = []
        if !trust.pcrs.isEmpty { all.append(("the manifest's pcrs", trust.pcrs)) }
        for (i, build) in trust.builds.enumerated() { all.append(("builds[\(i)]", build)) }
        var result: [[Int: [UInt8]]] = []
        for (name, pins) in all {
            guard imagePCRs.allSatisfy({ pins[$0] != nil }) || pins[signerPCR] != nil else {
                let pinned = pins.keys.sorted().map { "PCR\($0)" }.joined(separator: ", ")
                throw KMSPolicyError(
                    .buildNotPinned,
                    "\(name) pins \(pinned) but neither all of PCR0, PCR1 and PCR2 nor PCR8: a Decrypt statement on it would admit other images")
            }
            for (index, value) in pins.sorted(by: { $0.key < $1.key }) where value.count != pcrLength {
                throw KMSPolicyError(.pcrLength, "\(name): PCR\(index) is \(value.count) bytes; Nitro attests SHA-384 PCRs of \(pcrLength) bytes")
            }
            if !result.contains(pins) { result.append(pins) }
        }
        return result
    }

    /// The condition keys for one build: each pinned PCR, and ImageSha384 (an EIF's image hash is its PCR0) where
    /// PCR0 is pinned; lowercase hex.
    static func conditions(_ build: [Int: [UInt8]]) -> [String: String] {
        var conditions: [String: String] = [:]
        for (index, value) in build { conditions["kms:RecipientAttestation:PCR\(index)"] = Hex.encode(value).lowercased() }
        if let pcr0 = build[0] { conditions["kms:RecipientAttestation:ImageSha384"] = Hex.encode(pcr0).lowercased() }
        return conditions
    }

    /// `arn:PARTITION:kms:REGION:ACCOUNT:key/ID`, returned as given.
    static func checkKeyARN(_ arn: String) throws(KMSPolicyError) -> String {
        let parts = arn.split(separator: ":", omittingEmptySubsequences: false)
        let id = parts.count == 6 && parts[5].hasPrefix("key/") ? parts[5].dropFirst(4) : ""
        guard parts.count == 6, parts[0] == "arn", IAMPrincipal.partitions.contains(parts[1]), parts[2] == "kms",
            !parts[3].isEmpty, parts[3].allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }),
            IAMPrincipal.isAccount(parts[4]), (1...64).contains(id.count), id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") })
        else { throw KMSPolicyError(.invalidKeyARN, "--key-arn \"\(arn)\" is not arn:aws:kms:REGION:ACCOUNT:key/KEY-ID") }
        return arn
    }

    /// The policy as pretty-printed JSON with sorted keys (the same bytes for the same inputs).
    public func json() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Strings, arrays and string maps only: encoding cannot fail.
        return try! encoder.encode(self)
    }
}
