import Foundation
import NitroAttestation
import Synchronization
import VsockBridge

/// Nitro: the enclave is an EIF started with `nitro-cli run-enclave`, watched with `describe-enclaves` and
/// stopped with `terminate-enclave`. In debug mode its console is captured with `nitro-cli console`.
public struct NitroCLILauncher: EnclaveLauncher {
    public let nitroCLI: String
    public let enclave: DeploymentManifest.Enclave
    /// How often `describe-enclaves` is asked whether the enclave still runs.
    public let pollInterval: Duration
    private let sink: LineSink

    public init(nitroCLI: String = "nitro-cli", enclave: DeploymentManifest.Enclave, pollInterval: Duration = .seconds(2), sink: LineSink = .standardOutput) {
        self.nitroCLI = nitroCLI
        self.enclave = enclave
        self.pollInterval = pollInterval
        self.sink = sink
    }

    /// The `run-enclave` arguments for this manifest.
    public var runArguments: [String] {
        var a = ["run-enclave", "--eif-path", enclave.eif, "--cpu-count", String(enclave.cpuCount), "--memory", String(enclave.memoryMiB), "--enclave-cid", String(enclave.cid)]
        if enclave.debugMode { a.append("--debug-mode") }
        return a
    }

    public func launch(onExit: @escaping @Sendable (String) -> Void) async throws -> any LaunchedEnclave {
        let run = try await Command.run(nitroCLI, runArguments)
        guard run.status == 0 else {
            throw LaunchError("nitro-cli run-enclave failed (status \(run.status)): \(run.stderrText.prefix(2000))")
        }
        guard let json = try? JSONValue.parse(run.stdout), let id = json.object?["EnclaveID"]?.string, !id.isEmpty else {
            throw LaunchError("nitro-cli run-enclave printed no EnclaveID: \(String(decoding: run.stdout.prefix(2000), as: UTF8.self))")
        }
        let launched = NitroEnclave(id: id, nitroCLI: nitroCLI)
        if enclave.debugMode {
            launched.console = try? Command.stream(nitroCLI, ["console", "--enclave-id", id], lines: ConsoleLines(stream: "console", sink: sink))
        }
        let interval = pollInterval
        let cli = nitroCLI
        launched.watcher = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { return }
                guard let d = try? await Command.run(cli, ["describe-enclaves"]), d.status == 0,
                    case .array(let list)? = try? JSONValue.parse(d.stdout)
                else { continue }
                let mine = list.first { $0.object?["EnclaveID"]?.string == id }
                let state = mine?.object?["State"]?.string
                if state != "RUNNING" {
                    onExit("enclave \(id) is \(state ?? "gone") (describe-enclaves)")
                    return
                }
            }
        }
        return launched
    }
}

final class NitroEnclave: LaunchedEnclave, @unchecked Sendable {
    let id: String
    let nitroCLI: String
    // Set once right after launch, before the enclave is handed to anyone else.
    var console: Process?
    var watcher: Task<Void, Never>?

    init(id: String, nitroCLI: String) {
        self.id = id
        self.nitroCLI = nitroCLI
    }

    var identifier: String { id }

    func terminate(grace: Duration) async {
        watcher?.cancel()
        _ = try? await Command.run(nitroCLI, ["terminate-enclave", "--enclave-id", id])
        if let console, console.isRunning { kill(console.processIdentifier, SIGTERM) }
    }
}

/// Runs a command to completion, or streams its output as console lines.
enum Command {
    struct Output: Sendable {
        let status: Int32
        let stdout: [UInt8]
        let stderr: [UInt8]
        var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    }

    static func run(_ program: String, _ arguments: [String]) async throws -> Output {
        let p = Process()
        if program.contains("/") {
            p.executableURL = URL(fileURLWithPath: program)
            p.arguments = arguments
        } else {
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = [program] + arguments
        }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        // Both pipes are drained while the command runs: a command that writes more than a pipe holds must not
        // block forever waiting for a reader.
        final class Collected: @unchecked Sendable {
            var stdout = Data()
            var stderr = Data()
        }
        let collected = Collected()
        let drained = DispatchGroup()
        drained.enter()
        drained.enter()
        DispatchQueue.global().async {
            collected.stdout = PipeReader.readAll(out.fileHandleForReading)
            drained.leave()
        }
        DispatchQueue.global().async {
            collected.stderr = PipeReader.readAll(err.fileHandleForReading)
            drained.leave()
        }
        return try await withCheckedThrowingContinuation { continuation in
            p.terminationHandler = { p in
                drained.wait()
                continuation.resume(returning: Output(status: p.terminationStatus, stdout: Array(collected.stdout), stderr: Array(collected.stderr)))
            }
            do { try p.run() } catch {
                p.terminationHandler = nil
                try? out.fileHandleForWriting.close()
                try? err.fileHandleForWriting.close()
                continuation.resume(throwing: LaunchError("cannot run \(program): \(error)"))
            }
        }
    }

    static func stream(_ program: String, _ arguments: [String], lines: ConsoleLines) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [program] + arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        out.fileHandleForReading.readabilityHandler = { h in lines.take(h.availableData) }
        p.terminationHandler = { _ in
            out.fileHandleForReading.readabilityHandler = nil
            lines.finish()
        }
        try p.run()
        return p
    }
}
