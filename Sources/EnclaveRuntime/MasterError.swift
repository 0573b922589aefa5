/// Why the enclave holds no master secret, with a code per rule. The enclave then serves nothing.
public struct MasterError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable {
        /// A sealed master without a genesis document (a blob the host made, or one of an earlier layout).
        case genesisMissing
        /// The deployment record in the host's store does not parse.
        case deploymentRecordInvalid
        /// The genesis document does not verify (root, chain, signature) or does not carry genesis claims.
        case genesisInvalid
        /// The genesis document is from a build this enclave does not authorise (neither itself nor the manifest's `builds`).
        case genesisUnauthorised
        /// The sealed blob is not the one the genesis names (a blob the host made, or another deployment's genesis).
        case genesisBlobMismatch
        /// The unsealed secret is not the master the genesis commits to (a sealing answer with another secret).
        case masterCommitmentMismatch
        /// The sealing provider refused; `provider` holds its code (`kms.accessDenied`, `kms.notFound`, `credentialsUnavailable`...).
        case sealingRefused
        /// The host's store did not answer.
        case storeUnavailable
        /// Anything else (randomness, key derivation).
        case internalError
    }

    public let code: Code
    public let message: String
    /// The sealing provider's code, for `sealingRefused`.
    public let provider: String?

    public init(_ code: Code, _ message: String, provider: String? = nil) {
        self.code = code
        self.message = message
        self.provider = provider
    }

    public static func == (a: MasterError, b: MasterError) -> Bool { a.code == b.code }
    public func hash(into h: inout Hasher) { h.combine(code) }

    public var description: String { "\(code.rawValue)\(provider.map { " (\($0))" } ?? ""): \(message)" }
}
