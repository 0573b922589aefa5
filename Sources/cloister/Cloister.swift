import ArgumentParser

@main
struct Cloister: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cloister",
        abstract: "Verify AWS Nitro Enclaves attestation and talk to a Cloister service.",
        discussion: """
            Attestation documents are verified against pinned roots (AWS Nitro Enclaves Root-G1 by default) and,
            with --manifest, against pinned PCR measurements.
            """,
        subcommands: [AttestationCommand.self, NSMCommand.self, MeasureCommand.self]
    )
}
