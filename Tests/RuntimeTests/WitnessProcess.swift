import CloisterTestSupport
import Foundation

/// A `cloister audit witness` running until stopped, its standard error in a file: the witness of the tests that
/// follow a live host.
final class WitnessProcess: @unchecked Sendable {
    let process: Process
    let logURL: URL

    /// Starts the witness with `arguments` (after `audit witness`), its output in `directory`.
    init(_ arguments: [String], directory: URL) throws {
        logURL = directory.appendingPathComponent("witness-\(UUID().uuidString.prefix(8)).log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        process = Process()
        process.executableURL = BuiltTool.directory.appendingPathComponent("cloister")
        process.arguments = ["audit", "witness"] + arguments
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    var output: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// The port it listens on, once it says so (at most 20 s).
    func port() async throws -> Int {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if let line = output.split(separator: "\n").first(where: { $0.contains("witness listening on ") }),
                let port = line.split(separator: ":").last.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) })
            {
                return port
            }
            guard process.isRunning else { throw HarnessError("the witness exited with \(process.terminationStatus): \(output)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw HarnessError("the witness never said where it listens: \(output)")
    }

    /// Sends SIGTERM and waits for the exit status.
    func stop() async throws -> Int32 {
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning {
            guard Date() < deadline else { throw HarnessError("the witness still runs 20 s after SIGTERM") }
            try await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }
}
