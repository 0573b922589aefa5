import AWSKMS
import ArgumentParser
import Foundation
import NitroAttestation

/// `cloister kms ...`: what an enclave's KMS key needs.
struct KMSCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kms",
        abstract: "Write what the KMS key that seals an enclave's master secret needs: its key policy.",
        subcommands: [Policy.self])
}

extension KMSCommand {
    /// `cloister kms policy`: prints the key policy for a manifest's builds.
    struct Policy: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the KMS key policy that lets only the manifest's builds decrypt the master secret.",
            discussion: """
                The policy (JSON, on standard output) has three kinds of statement:
                  Administration  --admin may manage the key (Create*, Describe*, Enable*, List*, Put*, Update*, \
                Revoke*, Disable*, Get*, Delete*, tagging, scheduling and cancelling deletion) but not use it.
                  EnclaveEncrypt  --role may kms:Encrypt with the key.
                  EnclaveDecrypt  --role may kms:Decrypt only when the request carries a Nitro recipient attestation \
                whose PCRs equal one authorised build's: the manifest's attestation.pcrs and each of its builds, one \
                statement each (EnclaveDecrypt1, 2, ... when there are several). A build must pin PCR0, PCR1 and PCR2 \
                (ImageSha384 is added with PCR0's value) or PCR8 (the image's signing certificate), else nothing is \
                printed.
                --role gets nothing else: no ReEncrypt*, CreateGrant, PutKeyPolicy, nor Decrypt without attestation.

                The key administrator stays trusted: it can replace this policy (kms:PutKeyPolicy) and so grant \
                itself or anyone Decrypt. Choose a principal that is as closely guarded as the secret.
                Example:
                  cloister kms policy --manifest Manifests/keys.json --role arn:aws:iam::111122223333:role/enclave \
                --admin arn:aws:iam::111122223333:role/key-admin > policy.json
                """)

        @Option(help: "Pins: a Cloister manifest with an attestation section, or the JSON nitro-cli build-enclave / describe-eif prints.")
        var manifest: String

        @Option(help: ArgumentHelp("The enclave's role (arn:aws:iam::ACCOUNT:role/NAME, or a user).", valueName: "ARN"))
        var role: String

        @Option(help: ArgumentHelp("The key administrator (arn:aws:iam::ACCOUNT:role/NAME, user/NAME or root).", valueName: "ARN"))
        var admin: String

        @Option(
            name: .customLong("key-arn"),
            help: ArgumentHelp("Name the key (arn:aws:kms:REGION:ACCOUNT:key/ID) in the role's statements instead of \"*\" (in a key policy, the key itself).", valueName: "ARN"))
        var keyARN: String?

        func run() throws {
            let trust: TrustManifest
            do { trust = try TrustManifest.parse(try readFile(manifest, what: "manifest")) } catch let e as TrustManifest.Error {
                throw ValidationError("\(manifest): \(e)")
            }
            do {
                let policy = try KMSKeyPolicy(trust: trust, role: role, admin: admin, keyARN: keyARN)
                FileHandle.standardOutput.write(policy.json() + Data("\n".utf8))
            } catch {
                FileHandle.standardError.write(Data("cloister kms policy: \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
    }
}
