/// The roots an attestation chain may start from, pinned by the SHA-256 of their DER.
public struct TrustedRoots: Sendable, Hashable {
    /// SHA-256 fingerprints of the DER of every trusted root.
    public private(set) var fingerprints: Set<[UInt8]>
    /// Names of the roots, by fingerprint, for reports.
    public private(set) var names: [[UInt8]: String]

    /// SHA-256 of the DER of AWS Nitro Enclaves Root-G1 (CN=aws.nitro-enclaves), as AWS publishes it.
    public static let awsNitroRootG1Fingerprint: [UInt8] = Hex.decode(
        "641A0321A3E244EFE456463195D606317ED7CDCC3C1756E09893F3C68F79BB5B")!

    /// Only AWS Nitro Enclaves Root-G1.
    public static let aws = TrustedRoots(fingerprints: [awsNitroRootG1Fingerprint], names: [awsNitroRootG1Fingerprint: "AWS Nitro Enclaves Root-G1"])

    /// No root at all: every chain fails with `untrustedRoot`.
    public static let none = TrustedRoots(fingerprints: [], names: [:])

    public init(fingerprints: Set<[UInt8]>, names: [[UInt8]: String] = [:]) {
        self.fingerprints = fingerprints
        self.names = names
    }

    /// Trusts exactly these root certificates (an emulated root, say), by their DER's fingerprint.
    public init(certificates: [X509Certificate]) {
        self.init(fingerprints: [], names: [:])
        for c in certificates { add(c) }
    }

    /// Adds a root certificate.
    public mutating func add(_ certificate: X509Certificate) {
        fingerprints.insert(certificate.sha256)
        names[certificate.sha256] = certificate.subject
    }

    /// Whether a certificate's DER fingerprint is trusted.
    public func trusts(_ certificate: X509Certificate) -> Bool { fingerprints.contains(certificate.sha256) }

    /// Whether this is AWS's root: documents chained to any other root are emulated or foreign.
    public static func isAWS(_ certificate: X509Certificate) -> Bool { certificate.sha256 == awsNitroRootG1Fingerprint }
}
