import Foundation
import Logging
import Synchronization
import VsockBridge

/// Emulation: the enclave is `cloister-enclave` run as a child process with TCP settings. Its standard output and
/// error are the enclave's console: each line is logged with `"label": "enclave", "source": "console"`.
public struct ChildProcessLauncher: EnclaveLauncher {
    public let executable: String
    public let arguments: [String]
    public let environment: [String: String]?
    private let sink: LineSink

    public init(executable: String, arguments: [String], environment: [String: String]? = nil, sink: LineSink = .standardOutput) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.sink = sink
    }

    public func launch(onExit: @escaping @Sendable (String) -> Void) async throws -> any LaunchedEnclave {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw LaunchError("\(executable) is not an executable file")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let sink = self.sink
        let stdoutLines = ConsoleLines(stream: "stdout", sink: sink)
        let stderrLines = ConsoleLines(stream: "stderr", sink: sink)
        out.fileHandleForReading.readabilityHandler = { h in stdoutLines.take(h.availableData) }
        err.fileHandleForReading.readabilityHandler = { h in stderrLines.take(h.availableData) }
        process.terminationHandler = { p in
            out.fileHandleForReading.readabilityHandler = nil
            err.fileHandleForReading.readabilityHandler = nil
            stdoutLines.take(PipeReader.readAll(out.fileHandleForReading))
            stderrLines.take(PipeReader.readAll(err.fileHandleForReading))
            stdoutLines.finish()
            stderrLines.finish()
            let how = p.terminationReason == .uncaughtSignal
                ? "killed by signal \(p.terminationStatus)" : "exited with status \(p.terminationStatus)"
            // The enclave's last word (why it stopped, e.g. a master it refused) goes into the reason /healthz shows.
            onExit("process \(p.processIdentifier) \(how)" + (stderrLines.lastWord.map { ": \($0)" } ?? ""))
        }
        do { try process.run() } catch { throw LaunchError("cannot start \(executable): \(error)") }
        return ChildEnclave(process: process)
    }
}

/// A child-process enclave.
final class ChildEnclave: LaunchedEnclave, @unchecked Sendable {
    // Process is a class whose properties are safe to read from any thread once it runs.
    let process: Process
    init(process: Process) { self.process = process }

    var identifier: String { "pid \(process.processIdentifier)" }

    func terminate(grace: Duration) async {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            while process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
        }
    }
}

/// Splits a console stream into lines and logs each, and keeps the enclave's last word: the line
/// `cloister-enclave: REASON` it writes when it stops on an error.
final class ConsoleLines: Sendable {
    private let buffer = Mutex<[UInt8]>([])
    private let last = Mutex<String?>(nil)
    static let lastWordPrefix = "cloister-enclave: "

    /// The reason of the last `cloister-enclave: REASON` line (at most 300 characters).
    var lastWord: String? { last.withLock { $0 } }
    private let stream: String
    private let sink: LineSink
    static let maxLine = 16 * 1024

    init(stream: String, sink: LineSink) {
        self.stream = stream
        self.sink = sink
    }

    func take(_ data: Data) {
        guard !data.isEmpty else { return }
        let lines: [[UInt8]] = buffer.withLock { b in
            b.append(contentsOf: data)
            var out: [[UInt8]] = []
            while let nl = b.firstIndex(of: 10) {
                out.append(Array(b[..<nl]))
                b.removeSubrange(...nl)
            }
            if b.count > Self.maxLine {
                out.append(b)
                b.removeAll()
            }
            return out
        }
        for l in lines { emit(l) }
    }

    func finish() {
        let rest = buffer.withLock { b -> [UInt8] in
            defer { b.removeAll() }
            return b
        }
        if !rest.isEmpty { emit(rest) }
    }

    private func emit(_ line: [UInt8]) {
        let text = String(decoding: line, as: UTF8.self)
        if text.hasPrefix(Self.lastWordPrefix) { last.withLock { $0 = String(text.dropFirst(Self.lastWordPrefix.count).prefix(300)) } }
        sink.write(JSONLine.make(time: WallClock.milliseconds(), level: "info", label: "enclave", message: text, fields: [("source", "console"), ("stream", stream)]))
    }
}
