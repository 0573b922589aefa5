import Foundation
import NitroAttestation
import TransparencyLog

/// What an observer of a deployment's log (a witness, a client) kept when it refused a head: the signed head it had
/// accepted before, the signed head it was then offered, and the consistency proof the host gave between them, if
/// any. Anyone can check it offline with `check(deployment:)`; docs/log.md ("Evidence") says what it proves.
///
/// File form (JSON, one encoder: `json`): `{"format": "cloister-fork-evidence/1", "deployment": HEX, "failure":
/// "logForked" | "logRolledBack", "observer": TEXT, "time": SECONDS, "seen": NOTE, "offered": NOTE,
/// ? "proof": [BASE64, ...], "message": TEXT}`, each NOTE a signed checkpoint as text.
public struct ForkEvidence: Sendable, Hashable {
    /// What the observer refused.
    public enum Failure: String, Sendable, CaseIterable {
        /// A head not consistent with the one seen (a failed proof, or another root at the same size).
        case logForked
        /// A head smaller than the one seen, shown after it.
        case logRolledBack
    }

    public static let format = "cloister-fork-evidence/1"
    /// Largest evidence file read.
    public static let maxBytes = 256 * 1024
    /// Most proof nodes read (a consistency proof between 64-bit sizes has at most 128).
    public static let maxProofNodes = 128

    /// The deployment's commitment (its log key).
    public var deployment: [UInt8]
    public var failure: Failure
    /// Who saw it (`witness NAME`, `client`).
    public var observer: String
    /// When it was seen, in seconds since 1970.
    public var time: UInt64
    /// The signed head the observer had accepted.
    public var seen: [UInt8]
    /// The signed head it refused.
    public var offered: [UInt8]
    /// The consistency proof the host served between the two heads (from the smaller to the larger), if any.
    public var proof: [[UInt8]]?
    /// What failed, in words.
    public var message: String

    public init(
        deployment: [UInt8], failure: Failure, observer: String, time: UInt64, seen: [UInt8], offered: [UInt8], proof: [[UInt8]]?,
        message: String
    ) {
        self.deployment = deployment
        self.failure = failure
        self.observer = observer
        self.time = time
        self.seen = seen
        self.offered = offered
        self.proof = proof
        self.message = message
    }

    /// Evidence of `failure` between two verified heads, seen now by `observer`.
    public init(_ failure: Failure, deployment: [UInt8], observer: String, seen: LogHead, offered: LogHead, proof: [[UInt8]]?, message: String) {
        self.init(
            deployment: deployment, failure: failure, observer: observer, time: UInt64(max(0, Date().timeIntervalSince1970)), seen: seen.note,
            offered: offered.note, proof: proof, message: message)
    }

    private struct File: Encodable {
        let format: String
        let deployment: String
        let failure: String
        let observer: String
        let time: UInt64
        let seen: String
        let offered: String
        let proof: [String]?
        let message: String
    }

    /// The file form, JSON with sorted keys.
    public var json: [UInt8] {
        let file = File(
            format: Self.format, deployment: Hex.encode(deployment).lowercased(), failure: failure.rawValue, observer: observer, time: time,
            seen: String(decoding: seen, as: UTF8.self), offered: String(decoding: offered, as: UTF8.self), proof: proof?.map { Base64.encode($0) },
            message: message)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return Array((try? encoder.encode(file)) ?? Data()) + [0x0A]
    }

    /// Parses an evidence file; `malformedEvidence` names the field that breaks the form.
    public init(json bytes: [UInt8]) throws(ClientError) {
        do {
            let r = try JSONObjectReader(
                bytes, maxBytes: Self.maxBytes, keys: ["format", "deployment", "failure", "observer", "time", "seen", "offered", "proof", "message"],
                required: ["format", "deployment", "failure", "observer", "time", "seen", "offered", "message"])
            _ = try r.oneOf("format", [Self.format])
            self.init(
                deployment: try r.hex("deployment", count: 32), failure: Failure(rawValue: try r.oneOf("failure", Failure.allCases.map(\.rawValue)))!,
                observer: try r.string("observer", maxBytes: 256), time: try r.uint("time"),
                seen: Array(try r.string("seen", maxBytes: SignedNote.maxBytes).utf8), offered: Array(try r.string("offered", maxBytes: SignedNote.maxBytes).utf8),
                proof: r.has("proof") ? try r.base64List("proof", maxCount: Self.maxProofNodes, maxBytes: 32) : nil,
                message: try r.string("message", maxBytes: 4096))
        } catch {
            throw ClientError(.malformedEvidence, "not a \(Self.format) file: \(error)")
        }
    }
}
