import NitroAttestation

/// One boot's certificate chain under an emulated root, shaped like AWS's: regional (20 days, path length 2),
/// zonal (6 days, 1), instance (1 day, 0, keyCertSign only) and a 3-hour document-signing leaf.
struct EmulatedHierarchy: Sendable {
    let root: EmulatedRoot
    let cabundle: [X509Certificate]
    let leaf: X509Certificate
    let leafKey: P384Key
    let instanceKey: P384Key

    static let leafLifetime: Int64 = 3 * 3600

    init(root: EmulatedRoot, moduleID: String, now: Int64) throws(NSMError) {
        let s = now / 1000
        let tag = Hex.encode(Random.bytes(8))
        let regionalKey = try P384Key.generate()
        let regional = try CertificateIssuer.issue(
            subject: [("C", "US"), ("O", "Cloister"), ("OU", "Emulation"), ("CN", "\(tag).emulated-region.nitro-enclaves.cloister")],
            serial: Random.bytes(16), notBefore: s - 3600, notAfter: s + 20 * 86400, role: .intermediate(pathLength: 2, keyCertSignOnly: false),
            publicKey: regionalKey, issuer: (root.certificate, root.key))
        let zonalKey = try P384Key.generate()
        let zonal = try CertificateIssuer.issue(
            subject: [("C", "US"), ("O", "Cloister"), ("OU", "Emulation"), ("CN", "\(tag).emulated-zone.nitro-enclaves.cloister")],
            serial: Random.bytes(16), notBefore: s - 3600, notAfter: s + 6 * 86400, role: .intermediate(pathLength: 1, keyCertSignOnly: false),
            publicKey: zonalKey, issuer: (regional, regionalKey))
        let instanceKey = try P384Key.generate()
        let instanceName = String(moduleID.split(separator: "-enc").first ?? Substring(moduleID))
        let instance = try CertificateIssuer.issue(
            subject: [("C", "US"), ("O", "Cloister"), ("OU", "Emulation"), ("CN", "\(instanceName).emulated.nitro-enclaves.cloister")],
            serial: Random.bytes(20), notBefore: s - 3600, notAfter: s + 86400, role: .intermediate(pathLength: 0, keyCertSignOnly: true),
            publicKey: instanceKey, issuer: (zonal, zonalKey))
        self.root = root
        self.cabundle = [root.certificate, regional, zonal, instance]
        self.instanceKey = instanceKey
        (self.leaf, self.leafKey) = try Self.issueLeaf(moduleID: moduleID, instance: instance, instanceKey: instanceKey, now: now)
    }

    private init(root: EmulatedRoot, cabundle: [X509Certificate], instanceKey: P384Key, leaf: X509Certificate, leafKey: P384Key) {
        self.root = root
        self.cabundle = cabundle
        self.instanceKey = instanceKey
        self.leaf = leaf
        self.leafKey = leafKey
    }

    static func issueLeaf(moduleID: String, instance: X509Certificate, instanceKey: P384Key, now: Int64) throws(NSMError) -> (X509Certificate, P384Key) {
        let key = try P384Key.generate()
        let s = now / 1000
        let leaf = try CertificateIssuer.issue(
            subject: [("C", "US"), ("O", "Cloister"), ("OU", "Emulation"), ("CN", "\(moduleID).emulated")],
            serial: Random.bytes(16), notBefore: s - 3, notAfter: s + leafLifetime, role: .leaf,
            publicKey: key, issuer: (instance, instanceKey))
        return (leaf, key)
    }

    /// This chain if every certificate is valid for another minute at `now`; otherwise a renewed one
    /// (a new leaf when only the leaf ends, a new chain when an intermediate does), as Nitro rotates its own.
    func fresh(moduleID: String, now: Int64) throws(NSMError) -> EmulatedHierarchy {
        let margin: Int64 = 60_000
        if cabundle.allSatisfy({ $0.isValid(at: now + margin) }) {
            if leaf.isValid(at: now + margin) { return self }
            let (leaf, key) = try Self.issueLeaf(moduleID: moduleID, instance: cabundle[3], instanceKey: instanceKey, now: now)
            return EmulatedHierarchy(root: root, cabundle: cabundle, instanceKey: instanceKey, leaf: leaf, leafKey: key)
        }
        return try EmulatedHierarchy(root: root, moduleID: moduleID, now: now)
    }
}
