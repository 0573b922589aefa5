import CloisterTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// moto's stand-alone server (PyPI `moto[server]`, installed by Scripts/bootstrap) as a child process serving
/// HTTPS on a free loopback port with the certificate given. The first `unauthenticatedActions` requests are not
/// checked (INITIAL_NO_AUTH_ACTION_COUNT); every later one must carry a valid SigV4 signature by a known IAM user.
final class MotoServer {
    let process: Process
    let port: Int
    let logPath: String

    init(certificatePath: String, keyPath: String, unauthenticatedActions: Int, logDirectory: URL) throws {
        let executable = try #require(
            Self.find("moto_server"),
            "moto_server is not on PATH: run Scripts/bootstrap (it installs PyPI moto[server]); the KMS client's peer test cannot run without it"
        )
        port = try freePort()
        logPath = logDirectory.appendingPathComponent("moto.log").path
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-H", "127.0.0.1", "-p", "\(port)", "-c", certificatePath, "-k", keyPath]
        process.environment = ProcessInfo.processInfo.environment.merging([
            "INITIAL_NO_AUTH_ACTION_COUNT": "\(unauthenticatedActions)",
            "AWS_ACCESS_KEY_ID": "bootstrap", "AWS_SECRET_ACCESS_KEY": "bootstrap", "AWS_DEFAULT_REGION": "us-east-1",
        ]) { _, new in new }
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    /// Waits until the port accepts connections; fails with moto's log if it does not within `seconds`.
    func waitUntilListening(seconds: Double = 20) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if Self.accepts(port: port) { return }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("moto_server did not listen on \(port): \(log)")
        throw CancellationError()
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Kills moto. SIGKILL, not SIGTERM: the child inherits the test process's signal mask, in which SIGTERM and
    /// SIGINT are blocked, so a politer signal would wait forever.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        return path.split(separator: ":").map { "\($0)/\(name)" }.first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}
