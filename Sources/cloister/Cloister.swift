import ArgumentParser

@main
struct Cloister: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cloister",
        abstract: "Attest Cloister enclaves, call them and verify every answer; verify Nitro attestation documents and receipt logs.",
        discussion: """
            Attestation documents are verified against pinned roots (AWS Nitro Enclaves Root-G1 by default) and, \
            with --manifest, against pinned PCR measurements. `nsm` talks to /dev/nsm inside an enclave and to the \
            software emulator elsewhere; `measure` prints the PCRs the emulator reports for a build. `connect`, \
            `call`, `key`, `credential` and `audit` talk to a Cloister host and trust only what verifies against the \
            pinned manifest and the deployment commitment remembered for the host's URL (known-deployments, see \
            `cloister connect --help`); `key` and `credential` sign actions with your program key (`cloister \
            credential --help`); `admin` creates tenants and tokens with the host's admin token; `kms \
            policy` prints the KMS key policy that lets only the pinned builds decrypt the master secret.

            Environment: CLOISTER_TOKEN, CLOISTER_TENANT, CLOISTER_ADMIN_TOKEN; CLOISTER_CACHE_DIR (cached \
            identities; default $XDG_CACHE_HOME/cloister or ~/.cache/cloister); CLOISTER_CONFIG_DIR \
            (known-deployments, known-tenants, program-key.pem; default $XDG_CONFIG_HOME/cloister or \
            ~/.config/cloister); CLOISTER_CREDENTIAL (the program key file).
            """,
        subcommands: [
            ConnectCommand.self, CallCommand.self, KeyCommand.self, CredentialCommand.self, AuditCommand.self, AdminCommand.self, AttestationCommand.self, NSMCommand.self,
            MeasureCommand.self, KMSCommand.self, RecoveryCommand.self,
        ]
    )
}
