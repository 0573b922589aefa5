import ArgumentParser

@main
struct Cloister: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cloister",
        abstract: "Verify AWS Nitro Enclaves attestation documents and use the Nitro Secure Module (or its emulator).",
        discussion: """
            Attestation documents are verified against pinned roots (AWS Nitro Enclaves Root-G1 by default) and, \
            with --manifest, against pinned PCR measurements. `nsm` talks to /dev/nsm inside an enclave and to the \
            software emulator elsewhere; `measure` prints the PCRs the emulator reports for a build.
            """,
        subcommands: [AttestationCommand.self, NSMCommand.self, MeasureCommand.self]
    )
}
