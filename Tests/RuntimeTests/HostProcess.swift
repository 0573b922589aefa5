import Foundation
import NIOCore
import NIOPosix
import CloisterTestSupport

/// A real `cloister-host` process with its real `cloister-enclave` child, on free loopback ports, with its own
/// emulated root and its JSON log captured to a file.
final class HostProcess: @unchecked Sendable {
    struct Ports {
        var bridge = 0
        var ingress = 0
        var admin = 0
        var proxy = 0
        var api = 0
    }

    let process: Process
    let ports: Ports
    let logURL: URL
    let directory: URL
    /// Set when a restarted host took over the directory.
    var keepDirectory = false

    static var buildDirectory: URL { BuiltTool.directory }

    /// Starts a host. `edit` may change the manifest (a JSON object) before it is written.
    /// The admin token of hosts started with `api: true`.
    static let adminToken = "test-admin-token-0123456789"

    /// Starts a host. `edit` may change the manifest (a JSON object) before it is written. With `api`, the manifest
    /// has the request path (test workload) and the host a data directory and an admin token. `restart` starts a
    /// new host on the directory and ports of an earlier one (which must be stopped), keeping its database.
    static func start(
        pool: Int = 8, holdMs: Int = 5000, heartbeatMs: Int = 200, egressAllow: [String] = [], enclaveBinary: String? = nil,
        api: Bool = false, restart previous: HostProcess? = nil, hostArguments: HostArguments = .none, environment: [String: String] = [:],
        edit: (inout [String: Any]) -> Void = { _ in }
    ) async throws -> HostProcess {
        // Free ports are picked before the host binds them, so another test's process may take one first: a fresh
        // host that stops on "Address already in use" is started again on other ports. (A restart keeps its ports.)
        for _ in 0..<4 {
            let host = try launch(
                pool: pool, holdMs: holdMs, heartbeatMs: heartbeatMs, egressAllow: egressAllow, enclaveBinary: enclaveBinary, api: api,
                restart: previous, hostArguments: hostArguments, environment: environment, edit: edit)
            if previous != nil { return host }
            if try await !host.lostAPortRace(listening: api ? "api listening" : "admin listening") { return host }
        }
        throw HarnessError("a fresh host lost the race for its ports four times")
    }

    /// Waits (at most 10 s) until the host listens on every port or stops; true when it stopped on a port another
    /// process took. It sleeps without holding a thread: the tests share two.
    private func lostAPortRace(listening last: String) async throws -> Bool {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let text = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
            if !process.isRunning { return text.contains("Address already in use") }
            if text.contains(last) { return false }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    private static func launch(
        pool: Int, holdMs: Int, heartbeatMs: Int, egressAllow: [String], enclaveBinary: String?, api: Bool, restart previous: HostProcess?,
        hostArguments: HostArguments, environment: [String: String], edit: (inout [String: Any]) -> Void
    ) throws -> HostProcess {
        let directory = previous?.directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("cloister-host-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        previous?.keepDirectory = true
        var ports = Ports()
        if let previous {
            ports = previous.ports
        } else {
            // Five distinct ports: the kernel may hand the same free port out twice in a row.
            var chosen: [Int] = []
            while chosen.count < 5 {
                let p = try freePort()
                if !chosen.contains(p) { chosen.append(p) }
            }
            (ports.bridge, ports.ingress, ports.admin, ports.proxy, ports.api) = (chosen[0], chosen[1], chosen[2], chosen[3], chosen[4])
        }
        var enclave: [String: Any] = ["cpuCount": 2, "memoryMiB": 512]
        if let enclaveBinary { enclave["binary"] = enclaveBinary }
        var manifest: [String: Any] = [
            "name": "test",
            "enclave": enclave,
            "bridge": ["port": ports.bridge, "heartbeatMs": heartbeatMs, "missedHeartbeats": 3, "ingressPool": pool],
            "ingress": [["listen": "127.0.0.1:\(ports.ingress)", "enclavePort": 8443, "workload": "echo-hash"]],
            "egress": ["proxyPort": ports.proxy, "allow": egressAllow],
            "host": ["admin": "127.0.0.1:\(ports.admin)", "ingressHoldMs": holdMs, "restartMinMs": 100, "restartMaxMs": 1000, "drainMs": 2000, "bootTimeoutMs": 10000],
        ]
        if api { manifest["api"] = ["listen": "127.0.0.1:\(ports.api)", "workload": "test", "waitMs": 20_000, "leaseMs": 30_000] }
        edit(&manifest)
        let manifestURL = directory.appendingPathComponent("manifest.json")
        try JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys]).write(to: manifestURL)
        let logURL = directory.appendingPathComponent(previous == nil ? "host.log" : "host-\(UUID().uuidString.prefix(8)).log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let process = Process()
        process.executableURL = buildDirectory.appendingPathComponent("cloister-host")
        process.arguments = ["--manifest", manifestURL.path, "--transport", "tcp", "--emulator-dir", directory.appendingPathComponent("emulator").path]
        if api {
            let tokenURL = directory.appendingPathComponent("admin-token")
            try Data(adminToken.utf8).write(to: tokenURL)
            process.arguments! += ["--data-dir", directory.appendingPathComponent("data").path, "--admin-token-file", tokenURL.path]
        }
        process.arguments! += try hostArguments.make(manifestURL)
        // The emulated enclave inherits the host's environment (its memory bounds, `EnclaveMemory`).
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let log = try FileHandle(forWritingTo: logURL)
        process.standardOutput = log
        process.standardError = log
        try process.run()
        return HostProcess(process: process, ports: ports, logURL: logURL, directory: directory)
    }

    private init(process: Process, ports: Ports, logURL: URL, directory: URL) {
        self.process = process
        self.ports = ports
        self.logURL = logURL
        self.directory = directory
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        // The child enclave dies with its pipe; make sure of it.
        if let pid = try? enclavePIDFromLog() { kill(pid, SIGKILL) }
        if !keepDirectory && ProcessInfo.processInfo.environment["CLOISTER_TEST_KEEP"] == nil { try? FileManager.default.removeItem(at: directory) }
    }

    /// The JSON log lines so far.
    var logLines: [[String: Any]] {
        guard let data = try? Data(contentsOf: logURL) else { return [] }
        return data.split(separator: UInt8(ascii: "\n")).compactMap { try? JSONSerialization.jsonObject(with: Data($0)) as? [String: Any] }
    }

    func log(containing text: String, label: String? = nil) -> [[String: Any]] {
        logLines.filter { ($0["message"] as? String)?.contains(text) == true && (label == nil || $0["label"] as? String == label) }
    }

    /// `GET path` on the admin port: status and body.
    func admin(_ path: String) async throws -> (Int, String) {
        let response = try await RawSocket.exchange(port: ports.admin, send: Array("GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8), halfClose: false)
        let text = String(decoding: response, as: UTF8.self)
        let status = Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0
        let body = text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
        return (status, body)
    }

    func health() async throws -> (Int, [String: Any]) {
        let (status, body) = try await admin("/healthz")
        let json = (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:]
        return (status, json)
    }

    /// The enclave's process id, as /healthz reports it.
    func enclavePID() async throws -> Int32? {
        let (_, json) = try await health()
        guard let enclave = json["enclave"] as? [String: Any], let id = enclave["id"] as? String, id.hasPrefix("pid ") else { return nil }
        return Int32(id.dropFirst(4))
    }

    private func enclavePIDFromLog() throws -> Int32? {
        guard let last = log(containing: "enclave launched").last, let id = last["enclave"] as? String, id.hasPrefix("pid ") else { return nil }
        return Int32(id.dropFirst(4))
    }

    /// Waits until /healthz says ok (and, if given, with an enclave other than `notPID`) and idle tunnels are dialed.
    @discardableResult
    func waitHealthy(within seconds: Double = 30, notPID: Int32? = nil) async throws -> Double {
        let start = Date()
        while Date().timeIntervalSince(start) < seconds {
            if let (status, json) = try? await health(), status == 200,
                let ingress = json["ingress"] as? [String: Any], (ingress["idleTunnels"] as? Int ?? 0) > 0
            {
                if notPID == nil { return Date().timeIntervalSince(start) }
                let pid = try? await enclavePID()
                if pid != notPID { return Date().timeIntervalSince(start) }
            }
            guard process.isRunning else { throw HarnessError("cloister-host exited with \(process.terminationStatus): \(tail())") }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        throw HarnessError("not healthy within \(seconds) s: \(tail())")
    }

    /// Sends a signal and waits for the host to exit; returns its status.
    func stop(_ signal: Int32 = SIGTERM, within seconds: Double = 20) async throws -> Int32 {
        kill(process.processIdentifier, signal)
        let start = Date()
        while process.isRunning {
            guard Date().timeIntervalSince(start) < seconds else { throw HarnessError("still running \(seconds) s after signal \(signal)") }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        return process.terminationStatus
    }

    /// Waits until process `pid` is gone (an enclave whose host was killed notices within 200 ms).
    static func waitGone(_ pid: Int32?, within seconds: Double = 20) async throws {
        guard let pid else { return }
        let deadline = Date().addingTimeInterval(seconds)
        while kill(pid, 0) == 0 {
            guard Date() < deadline else { throw HarnessError("process \(pid) still runs \(seconds) s after its host was killed") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits until the log holds `text` (anywhere in a line, the enclave's console included).
    func waitForLog(_ text: String, within seconds: Double = 30) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if ((try? String(contentsOf: logURL, encoding: .utf8)) ?? "").contains(text) { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw HarnessError("the log never said \(text) within \(seconds) s: \(tail())")
    }

    func tail(_ n: Int = 15) -> String {
        let text = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(n).joined(separator: "\n")
    }
}

/// Arguments for `cloister-host` beyond the harness's own, computed from the manifest file it wrote.
struct HostArguments: Sendable {
    let make: @Sendable (URL) throws -> [String]
    static let none = HostArguments { _ in [] }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
