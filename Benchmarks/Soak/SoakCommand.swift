import ArgumentParser
import CloisterClient
import Foundation
import NitroAttestation
import SecureModule

/// The soak's client: the command line, the load, and the checks at its end.
struct SoakCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "Soak",
        abstract: "Scripts/soak's client: several tenants' mixed load of signed actions and the end-of-run checks.",
        discussion: """
            Attests the enclave and, for each tenant, registers a fresh program key as its first credential and \
            creates its keys (two signing keys, a data key, a key to rotate), then prints "ready" and runs the load \
            for --seconds: --workers loops per tenant, each doing one operation at a time (35% key.sign, 20% \
            key.encrypt, 15% key.decrypt of an earlier ciphertext, 15% key.rotate, 15% key.create), each signed for \
            the attested boot and sent under one request id until the host gives its signed answer (a refused \
            connection or a 5xx is retried with the same id and body; otherBoot signs again under a new id). Each \
            request id goes to OUT/records.jsonl when answered. Then, once every operation in flight has its \
            answer (at most --finish seconds): every acknowledged request id (200 or 202) is fetched again \
            (GET /v1/requests/ID) and its signed response verified, each rotated key's versions are counted against \
            the rotations answered ok, and each tenant's keys against the creations answered ok. The figures go to \
            OUT/summary.json; the exit status is 1 if a check failed.
            """
    )

    @Argument(help: "The host's API URL.") var url: String
    @Option(help: "Pins: a Cloister manifest with an attestation section, or the JSON nitro-cli prints.") var manifest: String
    @Option(help: ArgumentHelp("Trust this root certificate (PEM) instead of AWS's.", valueName: "PEM")) var root: String?
    @Option(name: .customLong("tenant"), help: ArgumentHelp("A tenant and its API token. Repeatable.", valueName: "NAME=TOKEN"))
    var tenants: [String] = []
    @Option(help: "Seconds of load after set-up.") var seconds = 240
    @Option(help: "Seconds the operations in flight at the end may take to get their answers.") var finish = 120
    @Option(help: "Concurrent operations per tenant.") var workers = 2
    @Option(help: "Directory for records.jsonl and summary.json.") var out: String

    func validate() throws {
        guard !tenants.isEmpty else { throw ValidationError("at least one --tenant NAME=TOKEN") }
        for t in tenants where t.split(separator: "=", maxSplits: 1).count != 2 { throw ValidationError("--tenant takes NAME=TOKEN, not \(t)") }
        guard seconds > 0, finish > 0, (1...64).contains(workers) else { throw ValidationError("--seconds, --finish > 0; --workers 1 to 64") }
    }

    static func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

    func run() async throws {
        guard let base = URL(string: url.hasSuffix("/") ? url : url + "/") else { throw SoakFailure("\(url) is not a URL") }
        let trust = try TrustManifest.parse(try Self.read(manifest))
        var roots = TrustedRoots.aws
        if let root {
            let certificates = try X509Certificate.fromPEM(String(decoding: try Self.read(root), as: UTF8.self))
            roots = TrustedRoots(certificates: certificates)
        }
        let ledger = try SoakLedger(path: out + "/records.jsonl")
        var loads: [SoakTenant] = []
        for t in tenants {
            let parts = t.split(separator: "=", maxSplits: 1).map(String.init)
            let tenant = try SoakTenant(name: parts[0], token: parts[1], base: base, trust: trust, roots: roots, ledger: ledger)
            do { Self.say(try await tenant.setUp()) } catch {
                Self.say("failed setup of \(parts[0]): \(error)")
                throw ExitCode.failure
            }
            loads.append(tenant)
        }
        let started = ContinuousClock.now
        let stop = started + .seconds(seconds)
        let giveUp = stop + .seconds(finish)
        Self.say("ready \(nowMS())")
        let progress = Task {
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(30))
                let records = await ledger.records
                let ok = records.filter { $0.status == "ok" && $0.verified }.count
                Self.say("progress \(nowMS()) ids \(records.count) ok-verified \(ok)")
            }
        }
        await withTaskGroup(of: Void.self) { group in
            for tenant in loads {
                for _ in 0..<workers {
                    group.addTask {
                        while ContinuousClock.now < stop {
                            _ = await tenant.step(draw: Int.random(in: 0..<100), until: stop, giveUp: giveUp)
                        }
                    }
                }
            }
        }
        progress.cancel()
        Self.say("load stopped \(nowMS())")
        let summary = await Self.checks(loads, ledger: ledger)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try encoder.encode(summary).write(to: URL(fileURLWithPath: out + "/summary.json"))
        Self.say("checked \(nowMS()): lost \(summary.lost), applied twice \(summary.appliedTwice), effects missing \(summary.effectsMissing), applied unanswered \(summary.appliedUnanswered), verification problems \(summary.problems)")
        if summary.lost + summary.appliedTwice + summary.effectsMissing + summary.problems > 0 { throw ExitCode.failure }
    }

    static func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw SoakFailure("cannot read \(path)") }
        return Array(data)
    }
}
