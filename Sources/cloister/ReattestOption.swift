import ArgumentParser

/// How old a cached identity may be before a command attests the enclave again.
struct ReattestOption: ParsableArguments {
    @Option(
        name: .customLong("reattest-after"),
        help: ArgumentHelp(
            "Attest the enclave again when the cached identity's document is older than this many seconds (default 3600); calls also re-attest on this schedule.",
            valueName: "SECONDS"))
    var seconds: Int = 3600

    var duration: Duration { .seconds(seconds) }

    func validate() throws {
        guard seconds >= 0 else { throw ValidationError("--reattest-after takes a number of seconds, 0 or more") }
    }
}
