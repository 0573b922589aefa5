/// What a verified document must also say: pinned PCRs, a nonce, freshness, debug mode.
///
/// Policies return a result instead of throwing, and say "not checked" for what they were not given:
/// an empty pin set is never reported as a match.
public struct AttestationPolicy: Sendable, Hashable {
    /// Expected PCR values by index. Empty: PCRs are not checked (and the report says so), unless `otherBuilds`
    /// pins some.
    public var pcrs: [Int: [UInt8]]
    /// The pins of other builds the deployment authorises (an upgrade, or a PCR8-only set for signed images): the
    /// PCR check also passes when every pin of any one of them matches.
    public var otherBuilds: [[Int: [UInt8]]] = []
    /// The nonce the document must carry, or nil for not checked.
    public var nonce: [UInt8]?
    /// Oldest acceptable document, in milliseconds before the validation time, or nil for not checked.
    public var maxAge: Int64?
    /// How far a document's timestamp may lie after the validation time (clock skew), in milliseconds.
    public var allowedSkew: Int64
    /// Whether debug-mode documents (PCR0, PCR1, PCR2 all zero) are acceptable.
    /// nil: not checked, which is the default only when nothing is pinned.
    public var allowDebug: Bool?

    public init(
        pcrs: [Int: [UInt8]] = [:], otherBuilds: [[Int: [UInt8]]] = [], nonce: [UInt8]? = nil, maxAge: Int64? = nil, allowedSkew: Int64 = 60_000,
        allowDebug: Bool? = nil
    ) {
        self.pcrs = pcrs
        self.otherBuilds = otherBuilds
        self.nonce = nonce
        self.maxAge = maxAge
        self.allowedSkew = allowedSkew
        self.allowDebug = allowDebug
    }

    /// One policy check's outcome.
    public enum Outcome: Sendable, Hashable {
        case passed(String)
        case failed(AttestationError)
        case notChecked(String)
    }

    /// The result of a whole policy, in the manner of swift-certificates' `PolicyEvaluationResult`.
    public enum Result: Sendable, Hashable {
        case meetsPolicy
        case failsToMeetPolicy(AttestationError)
    }

    /// Each check with its outcome, in order, and the overall result (the first failure).
    public struct Report: Sendable, Hashable {
        /// (check name, outcome) in evaluation order: "pcrs", "nonce", "freshness", "debug".
        public var checks: [(name: String, outcome: Outcome)]
        /// Per pinned PCR: (index, expected, actual or nil when absent).
        public var pcrComparisons: [(index: Int, expected: [UInt8], actual: [UInt8]?)]

        public var result: Result {
            for check in checks { if case .failed(let e) = check.outcome { return .failsToMeetPolicy(e) } }
            return .meetsPolicy
        }

        public static func == (a: Report, b: Report) -> Bool {
            a.checks.map(\.name) == b.checks.map(\.name) && a.checks.map(\.outcome) == b.checks.map(\.outcome)
        }
        public func hash(into h: inout Hasher) { h.combine(checks.map(\.name)) }
    }

    /// Evaluates every check against a verified document.
    public func evaluate(_ verified: VerifiedAttestation) -> Report {
        evaluate(verified.document, at: verified.validatedAt)
    }

    /// Evaluates every check against a document at the validation instant `time` (milliseconds).
    public func evaluate(_ document: AttestationDocument, at time: Int64) -> Report {
        var checks: [(String, Outcome)] = []
        var comparisons: [(Int, [UInt8], [UInt8]?)] = []

        let builds = otherBuilds.filter { !$0.isEmpty }
        if pcrs.isEmpty && builds.isEmpty {
            checks.append(("pcrs", .notChecked("no PCRs pinned")))
        } else {
            // The primary pins are compared (and reported) one by one; their failure is the one reported when no
            // other authorised build matches either.
            for index in pcrs.keys.sorted() { comparisons.append((index, pcrs[index]!, document.pcrs[index])) }
            var failure = Self.firstFailure(of: pcrs, in: document)
            if !pcrs.isEmpty && failure == nil {
                checks.append(("pcrs", .passed("\(pcrs.count) pinned PCRs match")))
            } else if let i = builds.firstIndex(where: { Self.firstFailure(of: $0, in: document) == nil }) {
                checks.append(("pcrs", .passed("the \(builds[i].count) pinned PCRs of other authorised build \(i + 1) of \(builds.count) match")))
            } else {
                failure = failure ?? Self.firstFailure(of: builds[0], in: document)
                checks.append(("pcrs", .failed(failure ?? AttestationError(.pcrMismatch, "no authorised build matches"))))
            }
        }

        if let nonce {
            if document.nonce == nonce {
                checks.append(("nonce", .passed("nonce matches")))
            } else {
                let found = document.nonce.map { Hex.encode($0) } ?? "none"
                checks.append(("nonce", .failed(AttestationError(.nonceMismatch, "nonce is \(found), expected \(Hex.encode(nonce))"))))
            }
        } else {
            checks.append(("nonce", .notChecked("no nonce expected")))
        }

        // 128-bit, so that no validation time, however extreme, overflows.
        let age = Int128(time) - Int128(document.timestamp)
        if age < -Int128(allowedSkew) {
            checks.append(("freshness", .failed(AttestationError(
                .documentFromFuture, "timestamp \(Timestamp.iso(Int64(clamping: document.timestamp))) is \(-age) ms after the validation time"))))
        } else if let maxAge {
            if age > Int128(maxAge) {
                checks.append(("freshness", .failed(AttestationError(.documentTooOld, "document is \(age / 1000) s old, at most \(maxAge / 1000) s allowed"))))
            } else {
                checks.append(("freshness", .passed("document is \(max(age, 0) / 1000) s old, at most \(maxAge / 1000) s allowed")))
            }
        } else {
            checks.append(("freshness", .notChecked("no maximum age")))
        }

        switch (document.isDebugMode, allowDebug) {
        case (false, _):
            checks.append(("debug", .passed("not a debug-mode enclave")))
        case (true, true?):
            checks.append(("debug", .passed("debug mode allowed")))
        case (true, false?):
            checks.append(("debug", .failed(AttestationError(.debugModeNotAllowed, "PCR0, PCR1 and PCR2 are all zero: the enclave runs in debug mode"))))
        case (true, nil):
            checks.append(("debug", .notChecked("DEBUG MODE enclave; no policy given")))
        }

        return Report(checks: checks, pcrComparisons: comparisons)
    }

    /// Why `document` does not meet `pins` (the lowest PCR index that fails), or nil when every pin matches.
    private static func firstFailure(of pins: [Int: [UInt8]], in document: AttestationDocument) -> AttestationError? {
        for index in pins.keys.sorted() {
            let expected = pins[index]!
            guard let actual = document.pcrs[index] else { return AttestationError(.pcrMissing, "PCR\(index) is pinned but absent from the document") }
            guard actual == expected else { return AttestationError(.pcrMismatch, "PCR\(index) is \(Hex.encode(actual)), pinned \(Hex.encode(expected))") }
        }
        return nil
    }
}
