import NitroAttestation
import Testing
import WebAuthn

/// The policy's report: every check named, failures with their code, "not checked" said out loud.
@Suite struct WebAuthnPolicyTests {
    static let authenticator = try! TestAuthenticator(.edDSA)
    static let clientData = ClientData(type: ClientData.getType, challenge: [1], origin: TestAuthenticator.origin)

    static func outcomes(
        _ policy: WebAuthnPolicy,
        _ clientData: ClientData = clientData,
        _ flags: AuthenticatorFlags = [.userPresent, .userVerified]
    )
        -> [String: WebAuthnPolicy.Outcome]
    {
        let report = policy.evaluate(
            clientData: clientData,
            authenticatorData: authenticator.authenticatorData(flags),
            publicKey: authenticator.publicKey
        )
        #expect(
            report.checks.map(\.name) == [
                "origin", "crossOrigin", "rpIdHash", "userPresent", "userVerified", "algorithm",
            ]
        )
        return Dictionary(uniqueKeysWithValues: report.checks.map { ($0.name, $0.outcome) })
    }

    static func failure(_ outcome: WebAuthnPolicy.Outcome?) -> WebAuthnErrorCode? {
        if case .failed(let error)? = outcome { return error.code }
        return nil
    }

    @Test func aCeremonyThatMeetsThePolicyPassesEveryCheck() {
        let report = TestAuthenticator.policy.evaluate(
            clientData: Self.clientData,
            authenticatorData: Self.authenticator.authenticatorData(),
            publicKey: Self.authenticator.publicKey
        )
        #expect(report.result == .meetsPolicy)
        #expect(report.checks.allSatisfy { if case .passed = $0.outcome { true } else { false } })
    }

    @Test func userVerificationNotRequiredIsReportedAsNotChecked() {
        let lenient = WebAuthnPolicy(
            rpID: TestAuthenticator.rpID,
            allowedOrigins: [TestAuthenticator.origin],
            requireUserVerification: false
        )
        for flags: AuthenticatorFlags in [[.userPresent], [.userPresent, .userVerified]] {
            guard case .notChecked? = Self.outcomes(lenient, Self.clientData, flags)["userVerified"] else {
                Issue.record("UV with \(flags) is not reported as not checked")
                continue
            }
        }
        #expect(
            Self.failure(Self.outcomes(TestAuthenticator.policy, Self.clientData, [.userPresent])["userVerified"])
                == .userNotVerified
        )
    }

    @Test func noAllowedOriginRefusesEveryOrigin() {
        let closed = WebAuthnPolicy(rpID: TestAuthenticator.rpID, allowedOrigins: [])
        #expect(Self.failure(Self.outcomes(closed)["origin"]) == .originNotAllowed)
    }

    @Test func originsMatchExactly() {
        for origin in [
            "https://cloister.example/", "https://CLOISTER.example", "http://cloister.example",
            "https://cloister.example:443", "https://evil.cloister.example",
        ] {
            let data = ClientData(type: ClientData.getType, challenge: [1], origin: origin)
            #expect(
                Self.failure(Self.outcomes(TestAuthenticator.policy, data)["origin"]) == .originNotAllowed,
                "\(origin)"
            )
        }
    }

    @Test func eachRuleFailsWithItsCode() {
        let crossOrigin = ClientData(
            type: ClientData.getType,
            challenge: [1],
            origin: TestAuthenticator.origin,
            crossOrigin: true
        )
        #expect(Self.failure(Self.outcomes(TestAuthenticator.policy, crossOrigin)["crossOrigin"]) == .crossOrigin)
        let framed = ClientData(
            type: ClientData.getType,
            challenge: [1],
            origin: TestAuthenticator.origin,
            topOrigin: "https://top.example"
        )
        #expect(Self.failure(Self.outcomes(TestAuthenticator.policy, framed)["crossOrigin"]) == .crossOrigin)
        let otherRP = WebAuthnPolicy(rpID: "other.example", allowedOrigins: [TestAuthenticator.origin])
        #expect(Self.failure(Self.outcomes(otherRP)["rpIdHash"]) == .rpIdHashMismatch)
        #expect(
            Self.failure(Self.outcomes(TestAuthenticator.policy, Self.clientData, [.userVerified])["userPresent"])
                == .userNotPresent
        )
        let es256Only = WebAuthnPolicy(
            rpID: TestAuthenticator.rpID,
            allowedOrigins: [TestAuthenticator.origin],
            algorithms: [.es256]
        )
        #expect(Self.failure(Self.outcomes(es256Only)["algorithm"]) == .unsupportedAlgorithm)
    }
}
