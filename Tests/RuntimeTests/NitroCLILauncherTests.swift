import Foundation
import Synchronization
import Testing
import VsockBridge

@testable import HostRuntime

/// The Nitro launcher against a stand-in `nitro-cli` (a shell script that records its arguments and answers as
/// nitro-cli does): the arguments it is given, the enclave id it reads, the exit it notices, the termination.
@Suite struct NitroCLILauncherTests {
    static func fakeCLI(runStatus: Int = 0) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nitro-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let script = """
            #!/bin/sh
            d="$(dirname "$0")"
            echo "$@" >> "$d/calls"
            case "$1" in
              run-enclave)
                if [ \(runStatus) -ne 0 ]; then echo "[ E26 ] Insufficient memory requested" >&2; exit \(runStatus); fi
                echo '{"EnclaveName": "cloister", "EnclaveID": "i-0123456789abcdef0-enc0123456789abcdef", "ProcessID": 4242, "EnclaveCID": 16, "NumberOfCPUs": 2, "CPUIDs": [1, 3], "MemoryMiB": 512}' ;;
              describe-enclaves)
                if [ -e "$d/gone" ]; then echo '[]'; else echo '[{"EnclaveID": "i-0123456789abcdef0-enc0123456789abcdef", "State": "RUNNING", "Flags": "NONE"}]'; fi ;;
              terminate-enclave)
                touch "$d/gone"
                echo '{"EnclaveID": "i-0123456789abcdef0-enc0123456789abcdef", "Terminated": true}' ;;
            esac
            """
        let url = dir.appendingPathComponent("nitro-cli")
        try script.write(to: url, atomically: true, encoding: .utf8)
        chmod(url.path, 0o755)
        return url
    }

    static func calls(_ cli: URL) -> [String] {
        ((try? String(contentsOf: cli.deletingLastPathComponent().appendingPathComponent("calls"), encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init)
    }

    @Test func launchesWatchesAndTerminates() async throws {
        let cli = try Self.fakeCLI()
        var settings = DeploymentManifest.Enclave()
        settings.eif = "/opt/x.eif"
        settings.cpuCount = 2
        settings.memoryMiB = 512
        settings.cid = 16
        settings.debugMode = false
        let launcher = NitroCLILauncher(nitroCLI: cli.path, enclave: settings, pollInterval: .milliseconds(50))
        let exits = Mutex<[String]>([])
        let enclave = try await launcher.launch(onExit: { how in exits.withLock { $0.append(how) } })
        #expect(enclave.identifier == "i-0123456789abcdef0-enc0123456789abcdef")
        #expect(Self.calls(cli).first == "run-enclave --eif-path /opt/x.eif --cpu-count 2 --memory 512 --enclave-cid 16")
        try await Task.sleep(for: .milliseconds(300))
        #expect(exits.withLock { $0 }.isEmpty, "a running enclave was reported gone")
        // The enclave disappears (as after a crash): describe-enclaves no longer lists it.
        _ = FileManager.default.createFile(atPath: cli.deletingLastPathComponent().appendingPathComponent("gone").path, contents: nil)
        for _ in 0..<500 where exits.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(20)) }
        #expect(exits.withLock { $0 }.first?.contains("gone") == true)
        await enclave.terminate(grace: Duration.seconds(1))
        #expect(Self.calls(cli).contains("terminate-enclave --enclave-id i-0123456789abcdef0-enc0123456789abcdef"))
    }

    @Test func debugModeIsPassedOn() {
        var settings = DeploymentManifest.Enclave()
        settings.debugMode = true
        #expect(NitroCLILauncher(enclave: settings).runArguments.last == "--debug-mode")
    }

    @Test func aFailedRunIsAnErrorWithNitroCLIsReason() async throws {
        let cli = try Self.fakeCLI(runStatus: 1)
        let launcher = NitroCLILauncher(nitroCLI: cli.path, enclave: DeploymentManifest.Enclave())
        do {
            _ = try await launcher.launch(onExit: { _ in })
            Issue.record("launch succeeded")
        } catch {
            #expect("\(error)".contains("E26"))
        }
    }

    /// Output larger than a pipe holds is drained while the command runs, not after (which would never come).
    @Test func largeOutputDoesNotDeadlock() async throws {
        let out = try await Command.run("/bin/sh", ["-c", "head -c 300000 /dev/zero; echo to-stderr >&2; exit 3"])
        #expect(out.status == 3)
        #expect(out.stdout.count == 300_000)
        #expect(out.stderrText == "to-stderr\n")
    }
}
