import ArgumentParser
import CloisterClient
import Foundation
import NitroAttestation
import SecureModule

/// The helper's command line and its conversation with the benchmark script on standard input and output.
struct ActionRequestsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ActionRequests",
        abstract:
            "Pre-generated zero-trust key.sign requests for a load generator, and the check of what the load made of them.",
        discussion: """
            Attests the enclave, registers the credential as the tenant's first if the tenant has none, creates the \
            keys, and answers "ok ready". Then it reads commands on standard input, one a line, and answers each \
            with report lines (indented) and a last line that starts with "ok" or "failed":

              generate KEY COUNT FILE   COUNT distinct key.sign requests for KEY, sealed to the attested boot and
                                        signed by the credential, written to FILE one a line: REQUEST_ID BASE64BODY
              verify FILE ANSWERED      a few of FILE's requests among its first ANSWERED/2 lines fetched by request
                                        id as the host stored them, their signed responses verified, their results
                                        opened and their signatures checked against key.describe's public key

            The keys that open the results never leave this process: generation and checks happen in one run. End of
            input ends it; the exit status is 1 if a check failed.
            """
    )

    @Argument(help: "The host's API URL.")
    var url: String

    @Option(help: "Pins: a Cloister manifest with an attestation section, or the JSON nitro-cli prints.")
    var manifest: String

    @Option(
        help: ArgumentHelp(
            "Trust this root certificate (PEM) instead of AWS's: the emulated root in emulation.",
            valueName: "PEM"
        )
    )
    var root: String?

    @Option(help: "The tenant the token belongs to.")
    var tenant: String

    @Option(help: ArgumentHelp("The tenant's API token (default: $CLOISTER_TOKEN).", valueName: "TOKEN"))
    var token: String?

    @Option(
        help: ArgumentHelp(
            "A program key (PEM) of the tenant, needed when it already has credentials; without it a fresh Ed25519 key becomes the tenant's first credential.",
            valueName: "PEM"
        )
    )
    var credential: String?

    @Option(
        name: .customLong("key"),
        help: ArgumentHelp(
            "A key to sign with, created if it does not exist: NAME=TYPE, TYPE ecdsa-p256 or ed25519. Repeatable.",
            valueName: "NAME=TYPE"
        )
    )
    var keys: [String] = []

    @Option(
        name: .customLong("run"),
        help: "The prefix of every request id, 1-24 of A-Z a-z 0-9 - _ (default: random)."
    )
    var runID: String = Hex.encode(Random.bytes(6))

    @Option(help: "Bytes of each message signed (64 to 4096).")
    var messageBytes = 64

    @Option(
        help: ArgumentHelp(
            "Append each checked signature to FILE as a JSON line {type, publicKey, message, signature} (base64), for a verifier outside Cloister.",
            valueName: "FILE"
        )
    )
    var signatures: String?

    func validate() throws {
        guard URL(string: url)?.scheme != nil else { throw ValidationError("\(url) is not a URL") }
        guard (1...24).contains(runID.count),
            runID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        else {
            throw ValidationError("--run takes 1 to 24 of A-Z a-z 0-9 - _")
        }
        guard (64...4096).contains(messageBytes) else { throw ValidationError("--message-bytes is 64 to 4096") }
        guard token ?? ProcessInfo.processInfo.environment["CLOISTER_TOKEN"] != nil else {
            throw ValidationError("no --token and no $CLOISTER_TOKEN")
        }
        for key in keys { _ = try Self.parseKey(key) }
    }

    static func parseKey(_ text: String) throws -> (name: String, kind: CredentialKey.Kind) {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, let kind = CredentialKey.Kind(rawValue: parts[1]) else {
            throw ValidationError("--key takes NAME=TYPE with TYPE ecdsa-p256 or ed25519, not \"\(text)\"")
        }
        return (parts[0], kind)
    }

    func run() async throws {
        let session: BenchSession
        do {
            session = try makeSession()
            Self.say(try await session.attest())
            Self.say(try await session.enrol())
            for key in keys {
                let (name, kind) = try Self.parseKey(key)
                Self.say(try await session.prepareKey(name: name, kind: kind))
            }
        } catch {
            Self.say("failed setup: \(error)", indent: false)
            throw ExitCode.failure
        }
        Self.say("ok ready", indent: false)

        var failed = false
        while let line = readLine() {
            let words = line.split(separator: " ").map(String.init)
            switch (words.first, words.count) {
            case ("generate", 4):
                guard let count = Int(words[2]), count > 0 else {
                    Self.say("failed generate: COUNT is a positive number, not \(words[2])", indent: false)
                    continue
                }
                do {
                    Self.say(
                        "ok " + (try await session.generate(key: words[1], count: count, path: words[3])),
                        indent: false
                    )
                } catch {
                    Self.say("failed generate: \(error)", indent: false)
                }
            case ("verify", 3):
                guard let answered = Int(words[2]), answered >= 0 else {
                    Self.say("failed verify: ANSWERED is a number, not \(words[2])", indent: false)
                    continue
                }
                let (lines, passed) = await session.verify(path: words[1], answered: answered)
                lines.forEach { Self.say($0) }
                failed = failed || !passed
                Self.say(
                    passed ? "ok \(lines.count) of the load's answers verified" : "failed verify \(words[1])",
                    indent: false
                )
            default:
                Self.say(
                    "failed: unknown command \"\(line)\" (generate KEY COUNT FILE, verify FILE ANSWERED)",
                    indent: false
                )
            }
        }
        if failed { throw ExitCode.failure }
    }

    /// Parses the command line and runs the command. From top-level code `main()` resolves to ArgumentParser's
    /// synchronous one, which refuses an asynchronous command.
    static func start() async {
        do {
            let command = try parse()
            try await command.run()
        } catch {
            exit(withError: error)
        }
    }

    /// The client, attesting against the pins and root given, with the credential to sign with.
    private func makeSession() throws -> BenchSession {
        guard let base = URL(string: url.hasSuffix("/") ? url : url + "/") else {
            throw BenchFailure("\(url) is not a URL")
        }
        let trust: TrustManifest
        do { trust = try TrustManifest.parse(try Self.read(manifest)) } catch {
            throw BenchFailure("\(manifest): \(error)")
        }
        var roots = TrustedRoots.aws
        if let root {
            guard let certificates = try? X509Certificate.fromPEM(String(decoding: try Self.read(root), as: UTF8.self)),
                !certificates.isEmpty
            else {
                throw BenchFailure("\(root) holds no PEM certificate")
            }
            roots = TrustedRoots(certificates: certificates)
        }
        let key =
            try credential.map { try CredentialKey.fromPEM(try Self.read($0)) } ?? CredentialKey.generate(.ed25519)
        var output: FileHandle?
        if let signatures {
            guard
                FileManager.default.fileExists(atPath: signatures)
                    || FileManager.default.createFile(atPath: signatures, contents: nil),
                let handle = FileHandle(forWritingAtPath: signatures)
            else { throw BenchFailure("cannot write \(signatures)") }
            handle.seekToEndOfFile()
            output = handle
        }
        let client = CloisterClient(
            baseURL: base,
            token: token ?? ProcessInfo.processInfo.environment["CLOISTER_TOKEN"],
            trust: trust,
            roots: roots,
            tenant: tenant,
            credential: key
        )
        return BenchSession(
            client: client,
            credential: key,
            runID: runID,
            messageBytes: messageBytes,
            signatures: output
        )
    }

    static func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw BenchFailure("cannot read \(path)") }
        return Array(data)
    }

    /// One line to the script, written at once (standard output is a pipe, where print would buffer it); report
    /// lines are indented, answers are not.
    static func say(_ line: String, indent: Bool = true) {
        FileHandle.standardOutput.write(Data(((indent ? "  " : "") + line + "\n").utf8))
    }
}
