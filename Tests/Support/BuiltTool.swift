import Foundation
import VsockBridge

/// The package's executables as tests run them: in a child process, on a blocking thread of its own (not the test's
/// pool), with the environment given on top of the test's.
public enum BuiltTool {
    /// What a run printed and how it ended.
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Where the executables are: beside the test bundle when it sits in the build directory, else `.build/debug`.
    public static let directory: URL = {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if FileManager.default.isExecutableFile(atPath: beside.appendingPathComponent("cloister-host").path) { return beside }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug")
    }()

    /// Runs executable `name` with `arguments` and waits for it, on a thread of its own: the blocking reads must not
    /// hold one of the few threads async code runs on (an in-process server the tool talks to needs them).
    public static func run(_ name: String, _ arguments: [String], environment: [String: String]) async throws -> Output {
        try await run(executable: directory.appendingPathComponent(name), arguments, environment: environment)
    }

    /// Runs `executable` with `arguments` and waits for it on a thread of its own (a key generation by `openssl` can
    /// take seconds: it must not hold one of the two threads every other test's timers run on).
    public static func run(executable: URL, _ arguments: [String], environment: [String: String]) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try runBlocking(executable: executable, arguments, environment: environment) }) }.start()
        }
    }

    /// Runs `executable` with `arguments` and waits for it, blocking the calling thread.
    public static func runBlocking(executable: URL, _ arguments: [String], environment: [String: String]) throws -> Output {
        let p = Process()
        p.executableURL = executable
        p.arguments = arguments
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Both pipes are read at once: a tool that fills one while the other is read first would never finish.
        final class Box: @unchecked Sendable { var bytes: [UInt8] = [] }
        let e = Box()
        let done = DispatchSemaphore(value: 0)
        Thread {
            e.bytes = [UInt8](PipeReader.readAll(err.fileHandleForReading))
            done.signal()
        }.start()
        let o = PipeReader.readAll(out.fileHandleForReading)
        done.wait()
        p.waitUntilExit()
        return Output(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e.bytes, as: UTF8.self))
    }
}
