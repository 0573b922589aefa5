/// What the vault's cached values hold in memory, in bytes, for the caches' byte bounds: each value's own storage,
/// an array's or string's heap header (`heapHeader`) for each one it owns, and libcrypto's structures for a parsed
/// key. Estimates from above, so that a cache never holds more than its bound says.
extension KeyVault {
    /// A heap allocation's header and rounding: an array's or a long string's storage.
    static let heapHeader = 48

    static func footprint(_ bytes: [UInt8]?) -> Int { bytes.map { heapHeader + $0.count } ?? 0 }
    static func footprint(_ text: String?) -> Int { text.map { heapHeader + $0.utf8.count } ?? 0 }
}

extension KeyRecord {
    /// Bytes this record holds: its versions (each with its material) and its quorum.
    var footprint: Int {
        let versionBytes = versions.reduce(KeyVault.heapHeader) { $0 + MemoryLayout<Version>.stride + KeyVault.footprint($1.material) }
        let quorumBytes = quorum.map { q in q.credentials.reduce(KeyVault.heapHeader) { $0 + MemoryLayout<[UInt8]>.stride + KeyVault.footprint($1) } } ?? 0
        return MemoryLayout<KeyRecord>.stride + versionBytes + quorumBytes
    }
}

extension CredentialSet {
    /// Bytes this set holds: its root, every entry's credential and the WebAuthn settings.
    var footprint: Int {
        let entryBytes = entries.reduce(KeyVault.heapHeader) { total, e in
            total + MemoryLayout<Entry>.stride + KeyVault.footprint(e.credential.spki) + KeyVault.footprint(e.credential.label)
                + KeyVault.footprint(e.credential.webauthnID)
        }
        let settings = webauthn.map { w in KeyVault.footprint(w.rpID) + w.origins.reduce(KeyVault.heapHeader) { $0 + 16 + KeyVault.footprint($1) } } ?? 0
        return MemoryLayout<CredentialSet>.stride + KeyVault.footprint(root) + entryBytes + settings
    }
}

extension PrivateKey {
    /// Bytes a parsed key holds: libcrypto's key (measured with glibc's allocator after a signature, which adds
    /// the provider's copy: about 2.5 KiB for an ECDSA key, 0.5 KiB for Ed25519), its public key and this object.
    var footprint: Int {
        let libcrypto = type == .ed25519 ? 640 : 3072
        return libcrypto + KeyVault.footprint(publicKey) + 32
    }
}
