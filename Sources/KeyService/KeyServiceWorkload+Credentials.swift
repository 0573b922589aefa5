import EnclaveWire
import NitroAttestation
import SecureModule
import WebAuthn

/// The credential operations (`credential.*`): a tenant's credential set, changed only by its own credentials.
extension KeyServiceWorkload {
    static let credentialFields: [String: Set<String>] = [
        "add": ["kind", "publicKey", "label", "attestationObject", "clientDataJSON", "webauthn"], "revoke": ["id"], "list": [],
    ]

    /// The credential a `credential.add` body names, and the tenant's WebAuthn settings after it (`settings`: the
    /// tenant's now). A passkey is registered from what `navigator.credentials.create` returned (attestation
    /// format "none", so the registration proves nothing by itself: the action's approvals authorise it, and for a
    /// tenant's first credential that is the new passkey's own assertion over the action digest).
    static func newCredential(
        _ input: Input, settings: CredentialSet.WebAuthnSettings?
    ) throws(KeyServiceError) -> (Credential, CredentialSet.WebAuthnSettings?) {
        guard let kind = Credential.Kind(rawValue: try input.string("kind")) else {
            throw KeyServiceError("badRequest", "kind is one of \(Credential.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var label: String?
        if input.object["label"] != nil {
            let l = try input.string("label")
            guard !l.isEmpty, l.utf8.count <= Credential.maxLabel, l.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
                throw KeyServiceError("badRequest", "a label is 1 to \(Credential.maxLabel) bytes of printable text")
            }
            label = l
        }
        guard kind == .passkey else {
            let spki = try input.bytes("publicKey")
            guard spki.count <= Credential.maxSPKI, CredentialVerifier.kind(spki: spki)?.rawValue == kind.rawValue else {
                throw KeyServiceError("badRequest", "publicKey must be the DER SubjectPublicKeyInfo of a \(kind.rawValue) key")
            }
            return (Credential(kind: kind, spki: spki, label: label), settings)
        }
        let requested = try webauthnSettings(input)
        if let settings, let requested, requested != settings {
            throw KeyServiceError("badRequest", "the tenant's WebAuthn settings are already set, and differ from these")
        }
        guard let effective = settings ?? requested else {
            throw KeyServiceError("badRequest", "a tenant's first passkey brings its WebAuthn settings: webauthn {rpId, origins, userVerification}")
        }
        let attestation = try input.bytes("attestationObject")
        let clientDataJSON = try input.bytes("clientDataJSON")
        let registration: Registration
        do throws(WebAuthnError) {
            // The registration's challenge carries nothing here (see above): it is read from the client data itself.
            let challenge = try ClientData(json: clientDataJSON).challenge
            registration = try WebAuthnVerifier(policy: policy(effective)).verifyRegistration(
                attestationObject: attestation, clientDataJSON: clientDataJSON, challenge: challenge)
        } catch {
            throw KeyServiceError(error.code.rawValue, "passkey registration: \(error.message)")
        }
        let credential = Credential(
            kind: .passkey, spki: registration.publicKey.spki, label: label, webauthnID: registration.credentialID,
            algorithm: registration.publicKey.algorithm.rawValue)
        return (credential, effective)
    }

    /// The `webauthn` field of a body: `{"rpId", "origins": [...], "userVerification": "required"|"discouraged"}`.
    static func webauthnSettings(_ input: Input) throws(KeyServiceError) -> CredentialSet.WebAuthnSettings? {
        guard let value = input.object["webauthn"] else { return nil }
        guard let o = value.object, Set(o.keys).isSubset(of: ["rpId", "origins", "userVerification"]), let rp = o["rpId"]?.string, !rp.isEmpty,
            rp.utf8.count <= 253, let list = o["origins"]?.items, !list.isEmpty, list.count <= 16
        else { throw KeyServiceError("badRequest", "webauthn is {\"rpId\", \"origins\": [1 to 16], \"userVerification\"?}") }
        let origins = list.compactMap(\.string)
        guard origins.count == list.count, origins.allSatisfy({ ($0.hasPrefix("https://") || $0.hasPrefix("http://")) && $0.utf8.count <= 256 }) else {
            throw KeyServiceError("badRequest", "webauthn origins are http(s) origins")
        }
        let uv = o["userVerification"]?.string ?? "required"
        guard ["required", "discouraged"].contains(uv) else { throw KeyServiceError("badRequest", "userVerification is required or discouraged") }
        return CredentialSet.WebAuthnSettings(rpID: rp, origins: origins, requireUserVerification: uv == "required")
    }

    static func policy(_ s: CredentialSet.WebAuthnSettings) -> WebAuthnPolicy {
        WebAuthnPolicy(rpID: s.rpID, allowedOrigins: s.origins, requireUserVerification: s.requireUserVerification)
    }

    /// Runs credential operation `op` (without its `credential.` prefix) for `tenant`; its JSON result.
    func performCredential(_ op: String, tenant: String, _ input: Input) async throws(KeyServiceError) -> [UInt8] {
        try input.only(Self.credentialFields[op] ?? [], operation: "credential." + op)
        let now = Self.now()
        switch op {
        case "add":
            let set = try await vault.updateCredentials(tenant) { (current: CredentialSet?) throws(KeyServiceError) -> CredentialSet in
                let (credential, settings) = try Self.newCredential(input, settings: current?.webauthn)
                guard var set = current else {
                    return CredentialSet(root: credential.id, entries: [.init(credential: credential, added: now)], webauthn: settings)
                }
                set.webauthn = settings
                guard set.entry(credential.id) == nil else { throw KeyServiceError("credentialExists", "the tenant already has this credential") }
                guard set.entries.count < CredentialSet.capacity else { throw KeyServiceError("tooManyCredentials", "a tenant holds at most \(CredentialSet.capacity) credentials") }
                set.entries.append(.init(credential: credential, added: now))
                return set
            }
            return try Self.describe(set)
        case "revoke":
            guard let id = Hex.decode(try input.string("id")), id.count == 32 else { throw KeyServiceError("badRequest", "id is the credential's id (64 hex digits)") }
            let set = try await vault.updateCredentials(tenant) { (current: CredentialSet?) throws(KeyServiceError) -> CredentialSet in
                guard var set = current, let i = set.entries.firstIndex(where: { $0.credential.id == id }) else {
                    throw KeyServiceError("unknownCredential", "the tenant has no credential \(Hex.encode(id).prefix(16))…")
                }
                guard set.entries[i].revoked == nil else { throw KeyServiceError("credentialRevoked", "that credential is already revoked") }
                set.entries[i].revoked = now
                return set
            }
            return try Self.describe(set)
        case "list":
            guard let set = try await vault.credentials(tenant).set else { throw KeyServiceError("noCredentials", "the tenant has no credential yet") }
            return try Self.describe(set)
        default:
            throw KeyServiceError("unknownOperation", "credentials have add, revoke, list")
        }
    }

    static func describe(_ set: CredentialSet) throws(KeyServiceError) -> [UInt8] {
        try KeyResults.encode(
            KeyResults.Credentials(
                root: Hex.encode(set.root),
                credentials: set.entries.map { e in
                    KeyResults.CredentialDescription(
                        id: Hex.encode(e.credential.id), kind: e.credential.kind.rawValue, publicKey: Base64.encode(e.credential.spki),
                        label: e.credential.label, added: e.added, revoked: e.revoked, webauthnId: e.credential.webauthnID.map { Base64.encode($0) },
                        signCount: e.credential.kind == .passkey ? e.signCount : nil)
                }))
    }
}
