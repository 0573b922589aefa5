import ArgumentParser
import CloisterClient
import TransparencyLog
import EnclaveWire
import Foundation
import NitroAttestation

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Export or verify the enclave's receipt log; witness its deployment log; check fork evidence.",
        subcommands: [Verify.self, Export.self, Witness.self, WitnessKeygen.self, Evidence.self])

    /// The two file forms of an exported log.
    enum Format: String, ExpressibleByArgument, CaseIterable {
        /// `cloister-audit/1`: JSON, each entry a signed receipt with its seal and proof; read whole into memory.
        case json
        /// `cloister-audit-cbor/1`: CBOR records by sealed batch, written and verified as a stream.
        case cbor

        /// `.json` files are JSON; any other name is the binary form.
        static func forPath(_ path: String) -> Format { path.lowercased().hasSuffix(".json") ? .json : .cbor }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replay a receipt log: every boot's document, every seal's signature, every chain link, the deployment log.",
            discussion: """
                --file takes an exported file, verified with no network: the binary form (cloister-audit-cbor/2) \
                is streamed, one sealed batch at a time, so memory does not grow with the log; the JSON form \
                (cloister-audit/1) is read whole and has no log heads. The form is told from the file's first byte. \
                --from takes the same file or the host's URL (the log and the boot documents are first exported to \
                a temporary binary file, with an auditor or admin token). The first gap, reorder, broken chain, \
                edited receipt, receipt signed by an unattested key, boot without a document or boot of another \
                deployment is named, with the log index of its entry; the exit status is then 1. In the binary \
                form the deployment log is rebuilt from the receipts: a log index missing (receiptMissing, a cut \
                tail below the final head included) or repeated (duplicateIndex), a head not signed by the \
                deployment key (logProofInvalid), a head that is not the log of the receipts before it \
                (logHeadMismatch), heads that shrink or disagree (logForked), and a request id that ran as two \
                signed actions (duplicateRequest) fail too. A binary file that is not well formed fails with \
                malformedLog, one cut short with truncatedLog. Every boot must carry the same deployment \
                commitment, which also signs the log's heads: the manifest's pin, else (with --from URL) the one \
                known-deployments remembers for the URL, else the first boot's; with --from URL, a commitment not \
                yet remembered is remembered once the log passes.

                On a terminal, a binary file's verification shows its progress on standard error (receipts done, \
                rate, time left) a few times a second; --json prints one JSON object and nothing else.
                """)

        @Option(help: ArgumentHelp("An exported log file, or the host's URL.", valueName: "FILE|URL"))
        var from: String?

        @Option(help: ArgumentHelp("An exported log file (binary or JSON).", valueName: "FILE"))
        var file: String?

        @OptionGroup var trust: TrustOptions
        @OptionGroup var token: TokenOption

        @Option(name: .customLong("also-manifest"), help: ArgumentHelp("Pins of another build the log may hold (repeatable): a boot must meet one of the manifests.", valueName: "FILE"))
        var also: [String] = []

        @Option(
            name: .customLong("head"),
            help: ArgumentHelp(
                "A head of the log seen elsewhere (repeatable): a signed note, such as a witness's /checkpoint or the one the CLI remembers in log-heads/. The export must hold it; with --from URL the remembered one is added.",
                valueName: "FILE"))
        var heads: [String] = []

        @Option(name: .customLong("witness"), help: ArgumentHelp("A witness's verifier key (repeatable) whose cosignatures on --head count.", valueName: "VKEY"))
        var witnessKeys: [String] = []

        @Option(help: ArgumentHelp("How many of the --witness keys must have cosigned a head the export holds.", valueName: "K"))
        var quorum = 0

        @Flag(help: "Print a JSON object instead of a report (and no progress).")
        var json = false

        @Flag(help: "Show progress even when standard error is not a terminal (never with --json).")
        var progress = false

        func validate() throws {
            guard (from == nil) != (file == nil) else { throw ValidationError("give one of --file FILE or --from FILE|URL") }
            guard quorum >= 0, quorum <= witnessKeys.count else { throw ValidationError("--quorum \(quorum) cannot be met by \(witnessKeys.count) --witness keys") }
        }

        /// The heads given with --head, the one remembered for the deployment, and the witness keys.
        func seen(_ service: ServiceDeployment?) throws -> (heads: [[UInt8]], witnesses: [NoteVerifierKey]) {
            var notes = try heads.map { path -> [UInt8] in
                guard let data = FileManager.default.contents(atPath: path), data.count <= KnownLogHeads.maxFileSize else {
                    throw ValidationError("\(path): cannot be read, or larger than \(KnownLogHeads.maxFileSize) bytes")
                }
                return [UInt8](data)
            }
            if let d = service?.remembered, let note = try KnownLogHeads.load(for: d) { notes.append(note) }
            let keys = try witnessKeys.map { text -> NoteVerifierKey in
                guard let key = try? NoteVerifierKey(parsing: text), key.type == .cosignatureV1 else {
                    throw ValidationError("--witness \(text): not a witness's verifier key (NAME+KEYID+BASE64, cosignature type)")
                }
                return key
            }
            return (notes, keys)
        }

        func run() async throws {
            let target = file ?? from!
            let pins = try [trust.trust()] + also.map { path in
                do { return try TrustManifest.parse(try readFile(path, what: "manifest")) } catch let e as TrustManifest.Error {
                    throw ValidationError("\(path): \(e)")
                }
            }
            let isURL = file == nil && (target.hasPrefix("http://") || target.hasPrefix("https://"))
            var service: ServiceDeployment?
            var binary: String?
            if isURL {
                // The host's log is exported to a temporary file in the binary form and streamed from there, so that
                // a URL gets every check a file does, the deployment log's included.
                try await reporting("audit verify") {
                    let base = try parseURL(target)
                    service = try ServiceDeployment(url: base)
                    try service?.check(pin: try trust.trust().deployment)
                    let path = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-audit-\(UUID().uuidString).cbor").path
                    let writer = try AuditStreamWriter(path: path, source: base.absoluteString)
                    let client = CloisterClient(baseURL: base, token: token.value, trust: try trust.trust(), roots: try trust.roots())
                    let summary = try await client.exportLog(into: writer)
                    try writer.finish()
                    if !json { Export.warn(summary) }
                    binary = path
                }
            } else if try Self.isBinary(target) {
                binary = target
            }
            defer { if isURL, let binary { unlink(binary) } }
            let report: AuditVerifier.Report
            let receipts: Int
            if let binary {
                var reader: AuditStreamReader?
                try await reporting("audit verify") { reader = try AuditStreamReader(path: binary) }
                guard let reader else { return }
                var verifier = AuditVerifier(trusts: pins, roots: try trust.roots(), deployment: service?.remembered)
                (verifier.seenHeads, verifier.witnesses) = try seen(service)
                verifier.witnessQuorum = quorum
                let meter = json || !(progress || isatty(STDERR_FILENO) == 1) ? nil : AuditProgressMeter(total: reader.header.receipts, fileSize: reader.fileSize)
                report = verifier.verify(reader) { meter?.update($0) }
                meter?.finish()
                receipts = Int(reader.header.receipts ?? reader.receipts)
            } else {
                guard heads.isEmpty, witnessKeys.isEmpty else { throw ValidationError("--head and --witness need the binary form (the JSON form carries no heads)") }
                var loaded: AuditLog?
                try await reporting("audit verify") { loaded = try AuditLog(json: try readFile(target, what: "log")) }
                guard let log = loaded else { return }
                report = AuditVerifier(trusts: pins, roots: try trust.roots()).verify(log)
                receipts = log.receipts.count
            }
            if report.passed, let line = try service?.learn(report.deployment) { FileHandle.standardError.write(Data((line + "\n").utf8)) }
            if json {
                print(Self.json(report, receipts: receipts))
            } else {
                print("receipts \(receipts), verified \(report.verified), boots \(report.boots.count)")
                for b in report.boots {
                    print("  boot \(Hex.encode(b.hash).prefix(16))…  receipts 1…\(b.lastSequence)  module \(b.moduleID)  PCR0 \(Hex.encode(b.pcr0).prefix(16))…")
                }
                if !report.boots.isEmpty { print("  deployment \(report.deployment.map { Hex.encode($0) } ?? "none (no master secret)")") }
                if let log = report.log { print("  log \(log.size) receipts, root \(Hex.encode(log.rootHash).prefix(16))…, every head signed by the deployment key") }
                if let f = report.failure {
                    let advice = f.code == .deploymentChanged ? service.map { " " + $0.advice } ?? "" : ""
                    print("FAILED at log entry \(report.failureIndex ?? -1): \(f)\(advice)")
                } else {
                    let log = report.log.map { ", the log of \($0.size) receipts is whole and matches its signed heads" } ?? ""
                    print("PASSED: every receipt is sealed by its boot's attested key, and every chain is whole and in order\(log); no signed action ran twice")
                }
            }
            if !report.passed { throw ExitCode(1) }
        }

        /// The one JSON object `--json` prints.
        static func json(_ report: AuditVerifier.Report, receipts: Int) -> String {
            let failure = report.failure.map { "{\"code\":\"\($0.code.rawValue)\",\"index\":\(report.failureIndex ?? -1),\"message\":\"\(AuditLog.escape($0.message))\"}" } ?? "null"
            let deployment = report.deployment.map { "\"\(Hex.encode($0))\"" } ?? "null"
            let log = report.log.map { "{\"size\":\($0.size),\"root\":\"\(Hex.encode($0.rootHash))\"}" } ?? "null"
            return "{\"passed\":\(report.passed),\"receipts\":\(receipts),\"verified\":\(report.verified),\"boots\":\(report.boots.count),\"deployment\":\(deployment),"
                + "\"log\":\(log),\"actions\":\(report.actions),\"failure\":\(failure)}"
        }

        /// Whether the file at `path` starts like the binary form (a CBOR map) rather than JSON.
        static func isBinary(_ path: String) throws -> Bool {
            guard let handle = FileHandle(forReadingAtPath: path) else { throw ValidationError("cannot read log \(path)") }
            defer { try? handle.close() }
            return AuditStream.isBinary(prefix: Array((try? handle.read(upToCount: 1)) ?? Data()))
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Save the receipt log and the boot attestation documents it needs to a file, for offline audit.",
            discussion: """
                The binary form (cloister-audit-cbor/2: CBOR, one record per sealed batch, the seal once, its \
                receipts in order with their log indexes and the deployment log's signed head after it; about a \
                quarter of the JSON's size) is written as the log is fetched, holding one page in memory. With a \
                deployment log, the host's newest head is read first and every receipt below its size is exported \
                in index order; an index the host has no receipt for is marked in the file as a gap (and named on \
                standard error), never skipped. The JSON form (cloister-audit/1) holds the whole log in memory and \
                carries no final head. --format chooses; without it, a file name ending in .json gets JSON and any \
                other the binary form.
                """)

        @Argument(help: "The host's API URL.")
        var url: String

        @Option(help: "The file to write.")
        var out: String

        @Option(help: ArgumentHelp("json or cbor (default: json for a .json file, else cbor).", valueName: "FORMAT"))
        var format: Format?

        @OptionGroup var token: TokenOption

        func run() async throws {
            let client = CloisterClient(baseURL: try parseURL(url), token: token.value, trust: TrustManifest(pcrs: [:]))
            try await reporting("audit export") {
                switch format ?? Format.forPath(out) {
                case .json:
                    let log = try await client.exportLog()
                    try Data(log.json.utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
                    print("exported \(log.receipts.count) receipt(s) and \(log.boots.count) boot document(s) to \(out)")
                case .cbor:
                    let writer = try AuditStreamWriter(path: out, source: try parseURL(url).absoluteString)
                    let summary = try await client.exportLog(into: writer)
                    try writer.finish()
                    let log = summary.logSize.map { ", under the log head of \($0) receipt(s)" } ?? ""
                    print("exported \(summary.receipts) receipt(s) in \(writer.batches) sealed batch(es) and \(summary.boots) boot document(s) to \(out) (\(AuditStream.format))\(log)")
                    Self.warn(summary)
                }
            }
        }

        /// Says on standard error which receipts of the log the host did not have (the file marks them as gaps).
        static func warn(_ summary: CloisterClient.ExportSummary) {
            guard !summary.gaps.isEmpty else { return }
            let ranges = summary.gaps.prefix(8).map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)…\($0.upperBound)" }.joined(separator: ", ")
            let count = summary.gaps.map(\.count).reduce(0, +)
            FileHandle.standardError.write(
                Data(
                    "warning: the host has no receipt at \(count) log index(es) below its head (\(ranges)\(summary.gaps.count > 8 ? ", …" : "")); the file marks them as gaps, and audit verify fails with receiptMissing\n"
                        .utf8))
        }
    }
}
