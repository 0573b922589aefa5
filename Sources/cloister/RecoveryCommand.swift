#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import CBOR
import CloisterClient
import EnclaveWire
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import NitroAttestation
import SecureModule

struct RecoveryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recovery",
        abstract: "Offline recovery keys: make one, and bring a deployment's master back with it if its KMS key is lost.",
        discussion: """
            The enclave seals its deployment's master secret to every recovery key its manifest lists \
            (recovery.keys), beside the KMS-sealed copy, in the host's store, signed by the deployment key. If the \
            KMS key is lost (KMS answers that it is gone), an enclave with recovery keys waits for a restore instead \
            of stopping (any other failure stops it): the holder of a \
            recovery key opens the master offline, checks it against the deployment's genesis, and seals it to that \
            enclave after verifying its attestation and pins. The enclave seals it under its manifest's KMS key and \
            boots again with the same deployment commitment, genesis and keys.
            """,
        subcommands: [Keygen.self, Restore.self])

    struct Keygen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a recovery key (X25519) in a new file, mode 0600, and print its public key for the manifest's recovery.keys.",
            discussion: "Keep the file offline; anyone who holds it and a copy of the host's store can read the master secret.")

        @Option(help: ArgumentHelp("The new key file (must not exist).", valueName: "FILE"))
        var out: String

        func run() throws {
            let key = try X25519Key.generate()
            try RecoveryKeyFile.create(path: out, key: key)
            print(Hex.encode(key.publicKey).lowercased())
            FileHandle.standardError.write(Data("recovery key written to \(out) (0600); add the line above to the manifest's recovery.keys\n".utf8))
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore a deployment's master secret into its attested enclave from a recovery key.",
            discussion: """
                Reads the deployment record and the recovery record from the host (GET /v1/deployment, with an admin \
                or auditor token), verifies the recovery record's signature by the deployment key, the \
                genesis document (root, a build the manifest authorises) and, if known-deployments remembers this \
                URL, that its commitment is the remembered one; opens the master with --recovery-key and checks it \
                against that commitment; attests the enclave (pins, freshness) and requires that it holds no master; \
                seals the master to that boot's key and calls recovery.restore; then waits until the enclave boots \
                again with the same deployment commitment.
                """)

        @Argument(help: "The host's API URL.")
        var url: String

        @Option(name: .customLong("recovery-key"), help: ArgumentHelp("The recovery key file (cloister recovery keygen).", valueName: "FILE"))
        var recoveryKey: String

        @Option(
            name: .customLong("admin-token"),
            help: ArgumentHelp("An admin or auditor token, to read the deployment and recovery records (default: $CLOISTER_ADMIN_TOKEN).", valueName: "TOKEN"))
        var adminToken: String?

        @OptionGroup var trust: TrustOptions
        @OptionGroup var token: TokenOption

        func run() async throws {
            let base = try parseURL(url)
            guard let reader = adminToken ?? ProcessInfo.processInfo.environment["CLOISTER_ADMIN_TOKEN"] else {
                throw ValidationError("--admin-token (or CLOISTER_ADMIN_TOKEN) is needed to read the deployment's records")
            }
            let key = try RecoveryKeyFile.load(path: recoveryKey)
            let pins = try trust.trust()
            let roots = try trust.roots()
            let remembered = try ServiceDeployment(url: base).remembered
            try await reporting("recovery restore") {
                let (record, recovery) = try await Self.fetchDeployment(base, token: reader)
                guard let genesis = record.genesis else { throw ValidationError("the host's deployment record has no genesis document") }
                let verified = try AttestationVerifier(roots: roots, cache: nil).verify(genesis, at: .documentTimestamp, policy: AttestationPolicy(pcrs: pins.pcrs, otherBuilds: pins.builds))
                let claims = try GenesisClaims(encoded: verified.document.userData ?? [])
                if let remembered, remembered != claims.commitment {
                    throw ValidationError("the host's genesis names deployment \(Hex.encode(claims.commitment).prefix(16))…, not the one remembered for \(url) (\(Hex.encode(remembered).prefix(16))…)")
                }
                guard let recovery, recovery.commitment == claims.commitment else { throw ValidationError("the host holds no recovery record for this deployment") }
                guard Ed25519Key.verify(recovery.signature, of: recovery.signedBytes, publicKey: claims.commitment) else {
                    throw ValidationError("the recovery record is not signed by this deployment's key (the host made it)")
                }
                guard let entry = recovery.entries.first(where: { $0.key == key.publicKey }) else {
                    throw ValidationError("the master is not sealed to this recovery key (the manifest's recovery.keys do not list \(Hex.encode(key.publicKey).prefix(16))…)")
                }
                let secret = try HPKEX25519.open(entry.ciphertext, enc: entry.enc, with: key, info: RecoveryRecord.info, aad: claims.commitment)
                guard secret.count == 32, Self.commitment(secret) == claims.commitment else {
                    throw ValidationError("the recovery entry does not open to the master the genesis commits to")
                }
                print("master opened with the recovery key; it is deployment \(Hex.encode(claims.commitment))")

                let client = CloisterClient(baseURL: base, token: token.value, trust: pins, roots: roots, tenant: token.tenantName)
                let identity = try await client.connect()
                guard identity.deployment == nil else {
                    throw ValidationError("the enclave already holds a master (deployment \(Hex.encode(identity.deployment!).prefix(16))…); nothing to restore")
                }
                let (enc, ct) = try HPKEX25519.seal(to: identity.claims.hpkePublicKey, info: RecoveryRecord.restoreInfo, aad: identity.boot, plaintext: secret)
                let response = try await client.call("recovery.restore", body: RecoveryRecord.restoreBody(enc: enc, ciphertext: ct))
                print(String(decoding: response.result, as: UTF8.self))
                print("waiting for the enclave to boot again with the restored master...")
                for _ in 0..<120 {
                    try await Task.sleep(for: .seconds(1))
                    let fresh = CloisterClient(baseURL: base, token: token.value, trust: pins, roots: roots, tenant: token.tenantName)
                    if let again = try? await fresh.connect(), again.deployment == claims.commitment {
                        print("restored: the enclave (boot \(Hex.encode(again.boot).prefix(16))…) holds deployment \(Hex.encode(claims.commitment))")
                        return
                    }
                }
                throw ValidationError("the enclave did not come back with the restored master within 120 s (see the host's /healthz)")
            }
        }

        /// The deployment's Ed25519 commitment for a master secret (as the enclave derives it).
        static func commitment(_ secret: [UInt8]) -> [UInt8]? { MasterDerivation.commitment(secret) }

        static func fetchDeployment(_ base: URL, token: String) async throws -> (DeploymentRecord, RecoveryRecord?) {
            var request = URLRequest(url: base.appendingPathComponent("v1/deployment"))
            request.setValue("Bearer " + token, forHTTPHeaderField: "Authorization")
            let (data, response) = try await URLSession.shared.data(for: request)
            guard (response as? HTTPURLResponse)?.statusCode == 200, data.count <= 64 * 1024 else {
                throw ValidationError("GET /v1/deployment answered \((response as? HTTPURLResponse)?.statusCode ?? 0)")
            }
            guard let map = try CBORDecoder(limits: .init(maxInputSize: 64 * 1024, maxDepth: 1, maxItems: 8)).decode(Array(data)).map, map.count <= 2,
                let record = map[.text("record")]?.bytes
            else { throw ValidationError("GET /v1/deployment is not CBOR {record, recovery}") }
            return (try DeploymentRecord(encoded: record), try map[.text("recovery")]?.bytes.map { try RecoveryRecord(encoded: $0) })
        }
    }
}

/// A recovery key file: one line `cloister-recovery-key/1 HEX` (the X25519 private key), mode 0600.
enum RecoveryKeyFile {
    static let tag = "cloister-recovery-key/1"

    static func create(path: String, key: X25519Key) throws {
        let line = Array("\(tag) \(Hex.encode(try key.rawPrivateKey()).lowercased())\n".utf8)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw ValidationError("cannot create \(path) (it must not exist): errno \(errno)") }
        defer { close(fd) }
        guard line.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == line.count, fsync(fd) == 0 else { throw ValidationError("cannot write \(path)") }
    }

    static func load(path: String) throws -> X25519Key {
        guard let data = FileManager.default.contents(atPath: path), data.count <= 256 else { throw ValidationError("cannot read the recovery key \(path)") }
        let parts = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ")
        guard parts.count == 2, parts[0] == tag, let raw = Hex.decode(parts[1]), raw.count == 32 else {
            throw ValidationError("\(path) is not a recovery key file (\(tag) HEX)")
        }
        return try X25519Key.fromRawPrivateKey(raw)
    }
}
