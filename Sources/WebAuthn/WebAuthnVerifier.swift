import NitroAttestation

/// Verifies WebAuthn registrations (W3C WebAuthn, section 7.1, "none" attestation) and assertions (section 7.2)
/// for one relying party. Pure computation: no I/O, no clock. A ceremony's freshness is its challenge's: the
/// caller passes the bytes it expects (for an assertion, the action digest) and keeps the counters.
///
/// Each method parses everything first, then checks the ceremony (type, challenge), then the policy
/// (`WebAuthnPolicy.evaluate`), then the signature and counter, and throws the first rule that fails.
public struct WebAuthnVerifier: Sendable {
    /// What the relying party requires.
    public var policy: WebAuthnPolicy

    /// A verifier for `policy`.
    public init(policy: WebAuthnPolicy) {
        self.policy = policy
    }

    /// Verifies a registration: the attestation object and clientDataJSON a browser returned from
    /// `navigator.credentials.create`, for the challenge the relying party sent.
    public func verifyRegistration(
        attestationObject: [UInt8],
        clientDataJSON: [UInt8],
        challenge: [UInt8]
    ) throws(WebAuthnError) -> Registration {
        let clientData = try ClientData(json: clientDataJSON)
        let attestation = try AttestationObject(attestationObject)
        let authenticatorData = attestation.authenticatorData
        try Self.checkCeremony(clientData, type: ClientData.createType, challenge: challenge)
        guard let credential = authenticatorData.attestedCredentialData else {
            throw WebAuthnError(.credentialDataMissing, "AT is not set: the registration carries no credential")
        }
        let report = policy.evaluate(clientData: clientData, authenticatorData: authenticatorData, publicKey: credential.publicKey)
        if case .failsToMeetPolicy(let error) = report.result { throw error }
        return Registration(
            credentialID: credential.credentialID,
            publicKey: credential.publicKey,
            signCount: authenticatorData.signCount,
            aaguid: credential.aaguid,
            flags: authenticatorData.flags,
            clientData: clientData,
            authenticatorData: authenticatorData
        )
    }

    /// Verifies an assertion: the authenticator data, clientDataJSON and signature a browser returned from
    /// `navigator.credentials.get`, for the challenge the relying party sent, with the credential's stored key
    /// and signature counter. The result's `signCount` is the count to store.
    public func verifyAssertion(
        authenticatorData: [UInt8],
        clientDataJSON: [UInt8],
        signature: [UInt8],
        challenge: [UInt8],
        publicKey: CredentialPublicKey,
        storedSignCount: UInt32
    ) throws(WebAuthnError) -> VerifiedAssertion {
        let clientData = try ClientData(json: clientDataJSON)
        let parsed = try AuthenticatorData(authenticatorData)
        try Self.checkCeremony(clientData, type: ClientData.getType, challenge: challenge)
        let report = policy.evaluate(clientData: clientData, authenticatorData: parsed, publicKey: publicKey)
        if case .failsToMeetPolicy(let error) = report.result { throw error }
        // The signed bytes are the authenticator data as received, then the hash of clientDataJSON as received.
        guard publicKey.verify(signature: signature, message: authenticatorData + SHA.sha256(clientDataJSON)) else {
            throw WebAuthnError(
                .signatureInvalid,
                "the \(publicKey.algorithm.name) signature does not verify over authenticatorData ‖ SHA-256(clientDataJSON)"
            )
        }
        // Section 7.2: a counter that does not grow may mean a cloned authenticator; synced passkeys report 0.
        if (parsed.signCount != 0 || storedSignCount != 0) && parsed.signCount <= storedSignCount {
            throw WebAuthnError(
                .signCountNotIncreased,
                "signCount is \(parsed.signCount), the stored count is \(storedSignCount)"
            )
        }
        return VerifiedAssertion(
            signCount: parsed.signCount,
            flags: parsed.flags,
            clientData: clientData,
            authenticatorData: parsed
        )
    }

    /// The ceremony's own rules: its type, and the challenge the relying party sent.
    static func checkCeremony(_ clientData: ClientData, type: String, challenge: [UInt8]) throws(WebAuthnError) {
        guard Array(clientData.type.utf8) == Array(type.utf8) else {
            throw WebAuthnError(.typeMismatch, "type is \"\(clientData.type.prefix(40))\", expected \"\(type)\"")
        }
        guard clientData.challenge == challenge else {
            throw WebAuthnError(
                .challengeMismatch,
                "challenge is \(Hex.encode(clientData.challenge.prefix(64))), expected \(Hex.encode(challenge))"
            )
        }
    }
}
