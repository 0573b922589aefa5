import NitroAttestation

/// What a relying party requires of a ceremony beyond its syntax and signature: its id, the origins it serves,
/// whether the user must be verified, and the algorithms it accepts.
///
/// Policies return a report instead of throwing, and fail closed: no allowed origin means every origin is
/// refused; user verification that is not required is reported as "not checked", never as passed.
public struct WebAuthnPolicy: Sendable, Hashable {
    /// The relying party id (a registrable domain, such as "cloister.example"); authenticator data must carry
    /// its SHA-256.
    public var rpID: String
    /// The origins a ceremony may come from, compared byte for byte with client data's `origin`
    /// ("https://cloister.example", no trailing slash).
    public var allowedOrigins: [String]
    /// Whether the UV flag must be set. True by default: a passkey authorises sensitive actions.
    public var requireUserVerification: Bool
    /// The credential public key algorithms accepted; ES256 and EdDSA by default.
    public var algorithms: Set<COSEAlgorithm>

    /// A policy for `rpID` and its `allowedOrigins`.
    public init(
        rpID: String,
        allowedOrigins: [String],
        requireUserVerification: Bool = true,
        algorithms: Set<COSEAlgorithm> = Set(COSEAlgorithm.allCases)
    ) {
        self.rpID = rpID
        self.allowedOrigins = allowedOrigins
        self.requireUserVerification = requireUserVerification
        self.algorithms = algorithms
    }

    /// One check's outcome.
    public enum Outcome: Sendable, Hashable {
        /// The rule held; what was found.
        case passed(String)
        /// The rule failed, with its code.
        case failed(WebAuthnError)
        /// The policy does not ask for this rule; said so rather than reported as passed.
        case notChecked(String)
    }

    /// One named check and its outcome.
    public struct Check: Sendable, Hashable {
        /// "origin", "crossOrigin", "rpIdHash", "userPresent", "userVerified" or "algorithm".
        public var name: String
        /// What the check found.
        public var outcome: Outcome
    }

    /// The overall result: the first failure, if any.
    public enum Result: Sendable, Hashable {
        /// Every check passed or was not asked for.
        case meetsPolicy
        /// The first check that failed.
        case failsToMeetPolicy(WebAuthnError)
    }

    /// Each check with its outcome, in order, and the overall result.
    public struct Report: Sendable, Hashable {
        /// The checks in evaluation order.
        public var checks: [Check]

        /// `failsToMeetPolicy` with the first failed check's error, else `meetsPolicy`.
        public var result: Result {
            for check in checks { if case .failed(let e) = check.outcome { return .failsToMeetPolicy(e) } }
            return .meetsPolicy
        }
    }

    /// Evaluates every check against a ceremony's parsed client data, authenticator data and credential key.
    public func evaluate(
        clientData: ClientData,
        authenticatorData: AuthenticatorData,
        publicKey: CredentialPublicKey
    ) -> Report {
        var checks: [Check] = []
        func add(_ name: String, _ outcome: Outcome) { checks.append(Check(name: name, outcome: outcome)) }
        func fail(_ name: String, _ code: WebAuthnErrorCode, _ message: String) {
            add(name, .failed(WebAuthnError(code, message)))
        }

        let origin = Array(clientData.origin.utf8)
        if allowedOrigins.contains(where: { Array($0.utf8) == origin }) {
            add("origin", .passed("origin \(clientData.origin) is allowed"))
        } else {
            fail(
                "origin",
                .originNotAllowed,
                "origin \"\(clientData.origin.prefix(80))\" is not among the \(allowedOrigins.count) allowed"
            )
        }

        if clientData.crossOrigin {
            fail("crossOrigin", .crossOrigin, "the ceremony ran in a cross-origin frame (crossOrigin is true)")
        } else if let top = clientData.topOrigin {
            fail("crossOrigin", .crossOrigin, "the ceremony ran inside another page (topOrigin \"\(top.prefix(80))\")")
        } else {
            add("crossOrigin", .passed("same-origin with its ancestors"))
        }

        let expected = SHA.sha256(Array(rpID.utf8))
        if authenticatorData.rpIdHash == expected {
            add("rpIdHash", .passed("rpIdHash is SHA-256 of \(rpID)"))
        } else {
            fail(
                "rpIdHash",
                .rpIdHashMismatch,
                "rpIdHash is \(Hex.encode(authenticatorData.rpIdHash)), SHA-256 of \(rpID) is \(Hex.encode(expected))"
            )
        }

        if authenticatorData.flags.contains(.userPresent) {
            add("userPresent", .passed("UP is set"))
        } else {
            fail("userPresent", .userNotPresent, "UP is not set: no user was present")
        }

        switch (authenticatorData.flags.contains(.userVerified), requireUserVerification) {
        case (true, true): add("userVerified", .passed("UV is set"))
        case (false, true):
            fail("userVerified", .userNotVerified, "UV is not set and the policy requires user verification")
        case (let uv, false):
            add("userVerified", .notChecked("user verification not required (UV is \(uv ? "" : "not ")set)"))
        }

        if algorithms.contains(publicKey.algorithm) {
            add("algorithm", .passed("\(publicKey.algorithm.name) is accepted"))
        } else {
            fail("algorithm", .unsupportedAlgorithm, "\(publicKey.algorithm.name) is not among the policy's algorithms")
        }
        return Report(checks: checks)
    }
}
