import Foundation
import Testing
import VsockBridge

/// A passkey in a real browser approves actions of a real host and enclave: `Tests/Browser/passkey_flow.py` plays
/// the integrator's backend (sealing with pyhpke and cbor2) and drives headless Chromium with a virtual
/// authenticator through `web/cloister-passkey.js`. Skipped only where Chromium or its driver is not installed
/// (Scripts/bootstrap installs them where apt can); a missing Python package fails.
@Suite struct BrowserPasskeyTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Browser/passkey_flow.py").path

    /// The steps the transcript must show passed.
    static let steps = [
        "demo", "encoder", "register", "approval", "credential.add", "key.create", "key.sign", "signature",
        "altered body", "other origin",
    ]

    @Test func aPasskeyInChromiumApprovesActionsAndIsRefusedOnAnAlteredBodyOrAnotherOrigin() async throws {
        guard let chromium = Self.executable(["chromium", "chromium-browser"]),
            let driver = Self.executable(["chromedriver"])
        else {
            print(
                "SKIP: chromium or chromedriver is not installed (Scripts/bootstrap installs them where apt can); "
                    + "the browser passkey test (a passkey made in Chromium becomes a tenant's first credential and "
                    + "approves key.create and key.sign; an altered body and another origin are refused) did not run"
            )
            return
        }
        let f = try await KeyServiceTests.start(register: false)
        let run = try await Self.python(
            [
                Self.script, "--url", f.base.absoluteString, "--tenant", "acme", "--chromium", chromium,
                "--chromedriver", driver,
            ],
            environment: ["CLOISTER_TOKEN": f.tenantToken],
            timeout: 300
        )
        print(run.output)
        #expect(
            run.status == 0,
            "passkey_flow.py exited \(run.status) (its transcript is above); host log tail:\n\(f.host.tail(30))"
        )
        let lines = run.output.split(separator: "\n").map(String.init)
        let passed = Set(lines.filter { $0.hasPrefix("PASS ") }.map { String($0.dropFirst(5).prefix { $0 != ":" }) })
        for step in Self.steps { #expect(passed.contains(step), "the transcript shows no PASS for \(step)") }
        let failed = lines.filter { $0.hasPrefix("FAIL ") }
        #expect(failed.isEmpty)
        #expect(lines.contains { $0.hasPrefix("PASS other origin: refused with originNotAllowed") })
        #expect(lines.contains { $0.hasPrefix("ALL PASSED: ") })
    }

    /// The first of `names` on the PATH.
    static func executable(_ names: [String]) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for name in names {
            for dir in path.split(separator: ":") {
                let candidate = "\(dir)/\(name)"
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            }
        }
        return nil
    }

    /// Runs `python3 -u arguments` on a thread of its own, standard output and error together; sent SIGTERM after
    /// `timeout` seconds (the script then quits its browser).
    static func python(
        _ arguments: [String],
        environment: [String: String],
        timeout: Double
    ) async throws -> (status: Int32, output: String) {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(
                    with: Result {
                        let p = Process()
                        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                        p.arguments = ["python3", "-u"] + arguments
                        p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
                        let out = Pipe()
                        p.standardOutput = out
                        p.standardError = out
                        try p.run()
                        let pid = p.processIdentifier
                        let watchdog = DispatchWorkItem { kill(pid, SIGTERM) }
                        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
                        let data = PipeReader.readAll(out.fileHandleForReading)
                        p.waitUntilExit()
                        watchdog.cancel()
                        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
                    }
                )
            }.start()
        }
    }
}
