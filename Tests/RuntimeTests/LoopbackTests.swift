import Foundation
import VsockBridge
import Testing

/// A Nitro Enclave boots with `lo` down; so does a new network namespace, which stands in for it here.
@Suite struct LoopbackTests {
    static func run(_ arguments: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = PipeReader.readAll(out.fileHandleForReading)
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func theEnclaveBringsUpADownLoopback() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare"), (try? Self.run(["-n", "true"]))?.0 == 0 else {
            print("SKIP: cannot create a network namespace here (needs unshare and CAP_SYS_ADMIN); the loopback test did not run")
            return
        }
        // Without the enclave's help, nothing on 127.0.0.1 is reachable in a new namespace.
        let (_, before) = try Self.run(["-n", "python3", "-c", """
            import socket
            s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
            c = socket.socket(); c.settimeout(2)
            try:
                c.connect(s.getsockname()); print("reachable")
            except OSError as e:
                print("unreachable", e.errno)
            """])
        #expect(before.hasPrefix("unreachable"), "\(before)")
        let enclave = HostProcess.buildDirectory.appendingPathComponent("cloister-enclave").path
        let (status, output) = try Self.run(["-n", enclave, "--check-network"])
        #expect(status == 0, "\(output)")
        #expect(output.hasPrefix("loopback: brought up; connected to 127.0.0.1:"), "\(output)")
    }
}
