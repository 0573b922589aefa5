import Foundation
import NitroAttestation

/// One file's verification: the document (when it parsed), the chain (when it validated), the policy report and
/// the first failure.
struct VerificationOutcome {
    let file: String
    var document: AttestationDocument?
    var verified: VerifiedAttestation?
    var report: AttestationPolicy.Report?
    var error: AttestationError?

    var valid: Bool { error == nil }

    static func run(file: String, verifier: AttestationVerifier, time: ValidationTime, policy: AttestationPolicy) -> VerificationOutcome {
        var outcome = VerificationOutcome(file: file)
        do {
            let bytes = try readDocument(file)
            let (envelope, document) = try AttestationVerifier.parse(bytes)
            outcome.document = document
            let verified = try verifier.verify(envelope, document, at: time)
            outcome.verified = verified
            let report = policy.evaluate(verified)
            outcome.report = report
            if case .failsToMeetPolicy(let e) = report.result { outcome.error = e }
        } catch {
            outcome.error = error
        }
        return outcome
    }

    func textReport() -> String {
        var lines: [String] = []
        if let error {
            lines.append("\(file): FAILED \(error.code.rawValue)")
            lines.append("  reason      \(error.message)")
        } else {
            lines.append("\(file): VERIFIED")
        }
        if let verified, !verified.isAWSRoot {
            lines.append("  WARNING     chained to a non-AWS root: this document is EMULATED or foreign, not from Nitro hardware")
        }
        if let d = document {
            lines.append("  module      \(d.moduleID)")
            lines.append("  timestamp   \(Timestamp.iso(Int64(clamping: d.timestamp)))" + (d.isDebugMode ? "   DEBUG MODE (PCR0-2 zero)" : ""))
        }
        if let v = verified {
            lines.append("  checked at  \(Timestamp.iso(v.validatedAt))")
            lines.append("  chain")
            for (i, c) in v.chain.certificates.enumerated() {
                let role = i == 0 ? "root" : (i == v.chain.certificates.count - 1 ? "leaf" : "ca\(i)")
                lines.append("    \(role.padding(toLength: 5, withPad: " ", startingAt: 0)) \(c.subject)")
                lines.append("          valid \(Timestamp.iso(c.notBefore)) .. \(Timestamp.iso(c.notAfter))")
            }
            lines.append("  root sha256 \(Hex.encode(v.chain.root.sha256).uppercased())")
        }
        if let d = document {
            let comparisons = Dictionary(uniqueKeysWithValues: (report?.pcrComparisons ?? []).map { ($0.index, $0.expected) })
            lines.append("  pcrs" + (comparisons.isEmpty ? "        (not checked: no PCRs pinned)" : ""))
            for index in d.pcrs.keys.sorted() {
                var mark = ""
                if let expected = comparisons[index] { mark = expected == d.pcrs[index]! ? "  match" : "  MISMATCH, pinned \(Hex.encode(expected))" }
                lines.append("    PCR\(index)".padding(toLength: 10, withPad: " ", startingAt: 0) + Hex.encode(d.pcrs[index]!) + mark)
            }
            for (index, _) in comparisons where d.pcrs[index] == nil {
                lines.append("    PCR\(index)".padding(toLength: 10, withPad: " ", startingAt: 0) + "MISSING (pinned)")
            }
            lines.append("  public_key  \(describe(d.publicKey))")
            lines.append("  user_data   \(describe(d.userData))")
            lines.append("  nonce       \(describe(d.nonce))")
        }
        if let report {
            lines.append("  policy")
            for check in report.checks {
                let text: String
                switch check.outcome {
                case .passed(let s): text = "passed       \(s)"
                case .failed(let e): text = "FAILED       \(e.code.rawValue): \(e.message)"
                case .notChecked(let s): text = "not checked  \(s)"
                }
                lines.append("    \(check.name.padding(toLength: 10, withPad: " ", startingAt: 0)) \(text)")
            }
        }
        return lines.joined(separator: "\n")
    }

    func jsonLine() -> String {
        var object: [String: Any] = ["file": file, "valid": valid]
        object["error"] = error.map { ["code": $0.code.rawValue, "message": $0.message] } ?? NSNull()
        if let d = document { object.merge(documentJSON(d)) { a, _ in a } }
        if let v = verified {
            object["validatedAt"] = Timestamp.iso(v.validatedAt)
            object["awsRoot"] = v.isAWSRoot
            object["chain"] = v.chain.certificates.map { c in
                ["subject": c.subject, "issuer": c.issuer, "notBefore": Timestamp.iso(c.notBefore),
                 "notAfter": Timestamp.iso(c.notAfter), "sha256": Hex.encode(c.sha256)]
            }
        }
        if let report {
            object["policy"] = report.checks.map { check -> [String: Any] in
                switch check.outcome {
                case .passed(let s): return ["check": check.name, "outcome": "passed", "detail": s]
                case .failed(let e): return ["check": check.name, "outcome": "failed", "code": e.code.rawValue, "detail": e.message]
                case .notChecked(let s): return ["check": check.name, "outcome": "notChecked", "detail": s]
                }
            }
        }
        return jsonText(object)
    }

    private func describe(_ bytes: [UInt8]?) -> String {
        guard let bytes else { return "null" }
        if bytes.isEmpty { return "empty (0 bytes)" }
        let shown = Hex.encode(bytes.prefix(32))
        return "\(bytes.count) bytes: \(shown)\(bytes.count > 32 ? "..." : "")"
    }
}

func documentJSON(_ d: AttestationDocument) -> [String: Any] {
    var pcrs: [String: String] = [:]
    for (i, v) in d.pcrs { pcrs[String(i)] = Hex.encode(v) }
    return [
        "moduleId": d.moduleID, "digest": d.digest, "timestamp": d.timestamp,
        "timestampISO": Timestamp.iso(Int64(clamping: d.timestamp)), "debugMode": d.isDebugMode, "pcrs": pcrs,
        "publicKey": d.publicKey.map { Hex.encode($0) } ?? NSNull(),
        "userData": d.userData.map { Hex.encode($0) } ?? NSNull(),
        "nonce": d.nonce.map { Hex.encode($0) } ?? NSNull(),
    ]
}

func jsonText(_ object: [String: Any]) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    return String(decoding: data, as: UTF8.self)
}

enum InspectReport {
    static func text(file: String, _ envelope: COSESign1, _ d: AttestationDocument) -> String {
        var lines = ["\(file): UNVERIFIED (decoded only: nothing below is authenticated)"]
        lines.append("  cose        \(envelope.isTagged ? "tagged (18)" : "untagged") COSE_Sign1, ES384, payload \(envelope.payload.count) bytes")
        lines.append("  module      \(d.moduleID)")
        lines.append("  digest      \(d.digest)")
        lines.append("  timestamp   \(Timestamp.iso(Int64(clamping: d.timestamp)))" + (d.isDebugMode ? "   DEBUG MODE (PCR0-2 zero)" : ""))
        lines.append("  pcrs")
        for index in d.pcrs.keys.sorted() {
            lines.append("    PCR\(index)".padding(toLength: 10, withPad: " ", startingAt: 0) + Hex.encode(d.pcrs[index]!))
        }
        lines.append("  certificates (as stated, not validated)")
        for (i, der) in (d.cabundle + [d.certificate]).enumerated() {
            let role = i == d.cabundle.count ? "leaf" : "cabundle[\(i)]"
            let subject = (try? X509Certificate(der: der))?.subject ?? "unparseable (\(der.count) bytes)"
            lines.append("    \(role.padding(toLength: 12, withPad: " ", startingAt: 0)) \(subject)")
        }
        for (name, value) in [("public_key", d.publicKey), ("user_data", d.userData), ("nonce", d.nonce)] {
            lines.append("  \(name.padding(toLength: 11, withPad: " ", startingAt: 0)) " + (value.map { "\($0.count) bytes: \(Hex.encode($0.prefix(32)))\($0.count > 32 ? "..." : "")" } ?? "null"))
        }
        return lines.joined(separator: "\n")
    }

    static func json(file: String, _ envelope: COSESign1, _ d: AttestationDocument) -> String {
        var object = documentJSON(d)
        object["file"] = file
        object["verified"] = false
        object["certificates"] = (d.cabundle + [d.certificate]).map { der -> [String: Any] in
            ["subject": (try? X509Certificate(der: der))?.subject ?? NSNull(), "sha256": Hex.encode(SHA.sha256(der))]
        }
        return jsonText(object)
    }
}
