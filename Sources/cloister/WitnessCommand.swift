import ArgumentParser
import CloisterClient
import Foundation
import LogWitness
import Logging
import NitroAttestation
import ServiceLifecycle

extension AuditCommand {
    struct WitnessKeygen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "witness-keygen",
            abstract: "Make a witness key (Ed25519) in a new file, mode 0600, and print its verifier key for the manifest's log.witnesses.",
            discussion: """
                The file holds one line, PRIVATE+KEY+NAME+KEYID+BASE64, and is never overwritten. The line printed, \
                NAME+KEYID+BASE64 (a C2SP cosignature/v1 verifier key, type 0x04), goes in the manifest's \
                log.witnesses and in what clients pin. Keep the key where the deployment's operator cannot reach it: \
                a witness the operator controls proves nothing.
                """)

        @Option(help: ArgumentHelp("The witness's name (printable ASCII without space or +, at most 200 bytes), e.g. witness.example.org.", valueName: "NAME"))
        var name: String

        @Option(help: ArgumentHelp("The new key file (must not exist).", valueName: "FILE"))
        var out: String

        func run() throws {
            do {
                let key = try WitnessKey.generate(name: name)
                try key.create(path: out)
                print(key.verifierKey.encoded)
            } catch {
                FileHandle.standardError.write(Data("cloister audit witness-keygen: \(error)\n".utf8))
                throw ExitCode(1)
            }
            FileHandle.standardError.write(Data("witness key written to \(out) (0600); add the line above to the manifest's log.witnesses\n".utf8))
        }
    }

    struct Witness: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "witness",
            abstract: "Witness a deployment's log: follow the host's heads and cosign only those consistent with the ones cosigned before.",
            discussion: """
                Each round fetches URL/v1/log/head and checks that the deployment key (--deployment, the commitment \
                every attestation document of the deployment names) signed it under its origin cloister/HEX. A head \
                larger than the newest one in --state is accepted only after the host's consistency proof from \
                that one verifies; one of the same size must have the same root. An accepted head is cosigned \
                (C2SP cosignature/v1, the time now; every round cosigns again, so a fresh cosignature always \
                exists), saved to --state (atomically; the file holds the deployment and the head, nothing \
                secret), served on --listen at GET /checkpoint (and GET /healthz), and handed to the host with \
                POST URL/v1/log/witness, where the enclave reads it at boot. The first round with no state file \
                accepts the host's head as it is.

                A smaller head is refused as logRolledBack, a failed proof or another root at the same size as \
                logForked: never cosigned, logged, and kept as an evidence file in --evidence DIR that anyone can \
                check offline with `cloister audit evidence`. Later rounds are still judged against the newest head \
                cosigned before.

                Run it outside the operator's control (another account, machine or organisation): its worth is \
                that the host cannot make it sign a head that is not consistent with what it signed before.

                Exit status with --once: 0 cosigned (and the host took it), 2 refused (logForked, logRolledBack), 1 \
                anything else (hostUnavailable, headInvalid, submitRefused, stateInvalid, keyInvalid...). Without \
                --once it runs until SIGTERM or SIGINT, a round every --interval seconds.
                """)

        @Argument(help: "The host's API URL.")
        var url: String

        @Option(help: ArgumentHelp("The witness key file (witness-keygen).", valueName: "FILE"))
        var key: String

        @Option(help: ArgumentHelp("The state file: the newest head cosigned (made on the first round).", valueName: "FILE"))
        var state: String

        @Option(help: ArgumentHelp("The deployment's commitment, 64 hex digits.", valueName: "HEX"))
        var deployment: String

        @Option(help: ArgumentHelp("An auditor or admin API token, to hand the cosigned head to the host (default: $CLOISTER_TOKEN).", valueName: "TOKEN"))
        var token: String?

        @Option(help: ArgumentHelp("Serve GET /checkpoint and GET /healthz here (port 0: any free port).", valueName: "HOST:PORT"))
        var listen: String?

        @Option(help: ArgumentHelp("Seconds between rounds.", valueName: "SECONDS"))
        var interval: Int = 60

        @Flag(help: "Do one round and exit.")
        var once = false

        @Option(help: ArgumentHelp("Where to write evidence files of refused heads.", valueName: "DIR"))
        var evidence: String?

        func validate() throws {
            guard let d = Hex.decode(deployment), d.count == 32 else { throw ValidationError("--deployment must be 64 hex digits") }
            guard (1...86_400).contains(interval) else { throw ValidationError("--interval must be 1 to 86400 seconds") }
            guard !(once && listen != nil) else { throw ValidationError("--once does one round and serves nothing: drop --listen") }
            if let listen { _ = try Self.address(listen) }
        }

        static func address(_ text: String) throws -> (String, Int) {
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port), colon != text.startIndex else {
                throw ValidationError("--listen must be HOST:PORT")
            }
            return (String(text[..<colon]), port)
        }

        func run() async throws {
            let commitment = Hex.decode(deployment)!
            let witness: LogWitness.Witness
            do {
                let key = try WitnessKey.load(path: key)
                // The witness trusts no attestation: only the deployment key's signatures and the proofs.
                let client = CloisterClient(
                    baseURL: try parseURL(url), token: token ?? ProcessInfo.processInfo.environment["CLOISTER_TOKEN"], trust: TrustManifest(pcrs: [:]),
                    deployment: commitment)
                witness = LogWitness.Witness(
                    configuration: .init(deployment: commitment, key: key, statePath: state, evidenceDirectory: evidence), host: client)
            } catch let error as WitnessError {
                FileHandle.standardError.write(Data("cloister audit witness: \(error)\n".utf8))
                throw ExitCode(1)
            }
            if once { return try await Self.runOnce(witness) }
            var logger = Logger(label: "cloister.witness", factory: { label in StreamLogHandler.standardError(label: label) })
            logger.logLevel = .info
            var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
                .init(service: WitnessService(witness: witness, interval: .seconds(interval), logger: logger))
            ]
            if let listen {
                let (host, port) = try Self.address(listen)
                let listener = WitnessListener(host: host, port: port, witness: witness, logger: logger)
                services.append(.init(service: listener.application(onRunning: { [logger] (port: Int) in logger.notice("witness listening on \(host):\(port)") })))
            }
            logger.notice("witness following", metadata: ["url": "\(url)", "witness": "\(witness.configuration.key.name)", "state": "\(state)"])
            try await ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)).run()
        }

        static func runOnce(_ witness: LogWitness.Witness) async throws {
            do {
                let round = try await witness.round()
                print("cosigned \(round.checkpoint.origin) at \(round.checkpoint.size) receipt(s)\(round.advanced ? "" : " (unchanged)")")
            } catch {
                FileHandle.standardError.write(Data("cloister audit witness: \(error)\n".utf8))
                throw ExitCode(error.code == .logForked || error.code == .logRolledBack ? 2 : 1)
            }
        }
    }

    struct Evidence: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a fork evidence file offline: does it prove the deployment's log forked?",
            discussion: """
                FILE is what a witness (--evidence DIR) or a client wrote on refusing a head: the head it had seen, \
                the head it was offered, and the host's consistency proof if any. Both heads must be signed by the \
                deployment key (--deployment). Two such heads of one size with different roots prove a fork: the \
                deployment signed two logs. A failed proof, or an older head shown after a newer one, proves no \
                fork alone: the host can make up a proof and replay old heads. Exit status: 0 a fork is proven, 1 it \
                is not, 2 FILE is not evidence of this deployment.
                """)

        @Argument(help: "The evidence file (JSON, cloister-fork-evidence/1).")
        var file: String

        @Option(help: ArgumentHelp("The deployment's commitment, 64 hex digits.", valueName: "HEX"))
        var deployment: String

        @Flag(help: "Print a JSON object instead of a sentence.")
        var json = false

        func validate() throws {
            guard let d = Hex.decode(deployment), d.count == 32 else { throw ValidationError("--deployment must be 64 hex digits") }
        }

        func run() async throws {
            let verdict: ForkEvidence.Verdict
            let evidence: ForkEvidence
            do {
                evidence = try ForkEvidence(json: try readFile(file, what: "evidence"))
                verdict = try evidence.check(deployment: Hex.decode(deployment)!)
            } catch let error as ClientError {
                FileHandle.standardError.write(Data("cloister audit evidence: \(error)\n".utf8))
                throw ExitCode(2)
            }
            if json {
                print(String(decoding: try Self.report(verdict, evidence), as: UTF8.self))
            } else {
                print("\(verdict.conclusive ? "PROVEN" : "NOT PROVEN") (\(verdict.finding.rawValue)): \(verdict.explanation)")
                print("  reported as \(evidence.failure.rawValue) by \(evidence.observer) at \(evidence.time): \(evidence.message)")
            }
            if !verdict.conclusive { throw ExitCode(1) }
        }

        struct Report: Encodable {
            let proven: Bool
            let finding: String
            let explanation: String
            let seenSize: UInt64
            let offeredSize: UInt64
            let failure: String
            let observer: String
        }

        static func report(_ v: ForkEvidence.Verdict, _ e: ForkEvidence) throws -> Data {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return try encoder.encode(
                Report(
                    proven: v.conclusive, finding: v.finding.rawValue, explanation: v.explanation, seenSize: v.seen.size, offeredSize: v.offered.size,
                    failure: e.failure.rawValue, observer: e.observer))
        }
    }
}
