import EnclaveRuntime
import Foundation
import NIOCore
import NIOPosix
import Testing
import CloisterTestSupport

/// The host and the enclave as real processes, talking over real sockets.
@Suite(.serialized) struct RuntimeTests {
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test func echoRoundTripsThroughTheEnclave() async throws {
        let host = try await HostProcess.start()
        try await host.waitHealthy()
        let payload = Array("hello through the bridge\n".utf8) + (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let answer = try await StreamClient.send(port: host.ports.ingress, command: "echo", payload: payload)
        #expect(answer == payload)
        // The enclave's logs reach the host with the enclave label.
        #expect(!host.log(containing: "enclave up", label: "enclave").isEmpty)
        #expect(!host.log(containing: "boot attestation taken", label: "enclave").isEmpty)
        // The host checked that boot attestation against the emulated root.
        #expect(host.log(containing: "enclave boot attestation verified", label: "host").first?["module_id"] as? String != nil)
    }

    /// At least 1 GiB, generated on the fly, arrives with the SHA-256 the sender computed.
    @Test func oneGibibyteArrivesIntact() async throws {
        let host = try await HostProcess.start()
        try await host.waitHealthy()
        let total = 1 << 30
        let chunk = 1 << 16
        // Chunks are one random block stamped with their index, so that generating them costs nothing next to
        // moving them, and no two chunks are equal.
        final class Source: @unchecked Sendable {
            var sent = 0
            var index: UInt64 = 0
            let block: [UInt8]
            let hasher = SHA256Stream()
            let total: Int
            init(total: Int, chunk: Int) {
                self.total = total
                var g = SystemRandomNumberGenerator()
                block = (0..<chunk).map { _ in UInt8.random(in: 0...255, using: &g) }
            }
            func next() -> ByteBuffer? {
                guard sent < total else { return nil }
                var buffer = ByteBuffer(bytes: block)
                buffer.setInteger(index, at: 0)
                index += 1
                buffer.withUnsafeReadableBytes { hasher.update($0) }
                sent += buffer.readableBytes
                return buffer
            }
        }
        let source = Source(total: total, chunk: chunk)
        let answer = try await StreamClient.exchange(port: host.ports.ingress, first: Array("sha256\n".utf8)) { source.next() }
        #expect(source.sent == total)
        #expect(String(decoding: answer, as: UTF8.self) == Self.hex(source.hasher.finish()) + "\n")
    }

    @Test func fiveHundredConcurrentIngressConnectionsAllComplete() async throws {
        let host = try await HostProcess.start(pool: 16)
        try await host.waitHealthy()
        let results = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<500 {
                group.addTask {
                    let payload = Array("connection \(i) ".utf8) + [UInt8](repeating: UInt8(i % 251), count: 4096)
                    let answer = try await StreamClient.send(port: host.ports.ingress, command: "echo", payload: payload)
                    return answer == payload
                }
            }
            var ok = 0
            for try await r in group where r { ok += 1 }
            return ok
        }
        #expect(results == 500)
        let (_, json) = try await host.health()
        let listeners = (json["ingress"] as? [String: Any])?["listeners"] as? [[String: Any]]
        #expect(listeners?.first?["paired"] as? Int ?? 0 >= 500)
        #expect(listeners?.first?["refused"] as? Int == 0)
    }

    /// kill -9 of the enclave: the host notices, restarts it, and ingress works again, all within 10 seconds.
    @Test func killedEnclaveIsRestartedAndServesAgain() async throws {
        let host = try await HostProcess.start()
        try await host.waitHealthy()
        let pid = try #require(try await host.enclavePID())
        let killed = Date()
        kill(pid, SIGKILL)
        try await host.waitHealthy(within: 10, notPID: pid)
        let answer = try await StreamClient.send(port: host.ports.ingress, command: "echo", payload: Array("after restart".utf8))
        let elapsed = Date().timeIntervalSince(killed)
        #expect(answer == Array("after restart".utf8))
        #expect(elapsed < 10, "restart and first round trip took \(elapsed) s")
        #expect(!host.log(containing: "killed by signal 9").isEmpty)
        let (_, json) = try await host.health()
        #expect((json["enclave"] as? [String: Any])?["restarts"] as? Int == 1)
    }

    /// A silent enclave (stopped with SIGSTOP: alive, but no heartbeats) is noticed after the missed heartbeats,
    /// killed and replaced.
    @Test func silentEnclaveIsReplaced() async throws {
        let host = try await HostProcess.start(heartbeatMs: 200)
        try await host.waitHealthy()
        let pid = try #require(try await host.enclavePID())
        kill(pid, SIGSTOP)
        defer { kill(pid, SIGKILL) }
        try await host.waitHealthy(within: 10, notPID: pid)
        #expect(!host.log(containing: "heartbeats missed").isEmpty)
        let answer = try await StreamClient.send(port: host.ports.ingress, command: "echo", payload: Array("after silence".utf8))
        #expect(answer == Array("after silence".utf8))
    }

    /// kill -9 of the host: its emulated enclave notices it is orphaned and stops, instead of serving on beside the
    /// enclave the next host starts.
    @Test func enclaveStopsWhenItsHostIsKilled() async throws {
        let host = try await HostProcess.start()
        try await host.waitHealthy()
        let pid = try #require(try await host.enclavePID())
        _ = try await host.stop(SIGKILL)
        var alive = true
        for _ in 0..<100 where alive {
            try await Task.sleep(nanoseconds: 50_000_000)
            alive = kill(pid, 0) == 0 && !isZombie(pid)
        }
        #expect(!alive, "enclave \(pid) still runs 5 s after its host was killed")
    }

    /// With no enclave able to start, health is degraded (503, with the reason) and a client is closed after the
    /// hold time instead of hanging.
    @Test func deadEnclaveMeansDegradedHealthAndRefusedIngress() async throws {
        let host = try await HostProcess.start(holdMs: 300, enclaveBinary: "/bin/false")
        var degraded: (Int, [String: Any]) = (0, [:])
        for _ in 0..<200 {
            guard let h = try? await host.health() else {
                try await Task.sleep(nanoseconds: 50_000_000)
                continue
            }
            degraded = h
            if degraded.0 == 503, ((degraded.1["enclave"] as? [String: Any])?["restarts"] as? Int ?? 0) >= 1 { break }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        #expect(degraded.0 == 503)
        #expect(degraded.1["status"] as? String == "degraded")
        let started = Date()
        let answer = try await RawSocket.exchange(port: host.ports.ingress, send: Array("echo\nx".utf8), timeoutSeconds: 5)
        let waited = Date().timeIntervalSince(started)
        #expect(answer.isEmpty)
        #expect(waited >= 0.25 && waited < 4.5, "closed after \(waited) s")
        #expect(!host.log(containing: "ingress client refused").isEmpty)
        let (_, metrics) = try await host.admin("/metrics")
        #expect(metrics.contains("cloister_enclave_up 0"))
        #expect(metrics.contains("cloister_ingress_refused_total{listener=\"127.0.0.1:\(host.ports.ingress)\"} 1"))
    }

    /// SIGTERM: ingress stops, open connections drain, the enclave is terminated, the host exits 0.
    @Test func sigtermDrainsTerminatesTheEnclaveAndExitsZero() async throws {
        let host = try await HostProcess.start()
        try await host.waitHealthy()
        // A SIGTERM in the enclave's first milliseconds, before its service group handles signals, ends it at once
        // (it has nothing to drain yet): this test is about a running enclave, so it lets it settle first.
        try await Task.sleep(for: .milliseconds(500))
        let pid = try #require(try await host.enclavePID())
        let status = try await host.stop(SIGTERM)
        #expect(status == 0)
        #expect(kill(pid, 0) != 0, "the enclave process \(pid) is still there")
        #expect(!host.log(containing: "terminating the enclave").isEmpty)
        #expect(!host.log(containing: "host stopped").isEmpty)
        #expect(!host.log(containing: "enclave stopping", label: "enclave").isEmpty, "\(host.tail())")
    }

    /// Egress end to end: a workload's CONNECT to an allowed destination reaches it through the enclave's proxy,
    /// the bridge and the host; a CONNECT elsewhere is refused by the enclave with 403 and logged on both sides.
    @Test func egressAllowedWorksAndUnlistedIsRefused() async throws {
        let echo = try await EchoServer.start()
        defer { echo.channel.close(promise: nil) }
        let echoPort = echo.port
        let host = try await HostProcess.start(egressAllow: ["127.0.0.1:\(echoPort)"])
        try await host.waitHealthy()

        let allowed = try await RawSocket.exchange(port: host.ports.proxy, send: Array("CONNECT 127.0.0.1:\(echoPort) HTTP/1.1\r\n\r\nping over egress".utf8), halfClose: true)
        let text = String(decoding: allowed, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 200"))
        #expect(text.hasSuffix("\r\n\r\nping over egress"))

        let refused = try await RawSocket.exchange(port: host.ports.proxy, send: Array("CONNECT 127.0.0.1:\(echoPort + 1) HTTP/1.1\r\n\r\n".utf8))
        let refusal = String(decoding: refused, as: UTF8.self)
        #expect(refusal.hasPrefix("HTTP/1.1 403"))
        #expect(refusal.contains("egressRefused"))
        // A workload that gives up halfway through its request is closed, not left waiting.
        let partial = try await RawSocket.exchange(port: host.ports.proxy, send: Array("CONNECT 127.0.0.1:1 HT".utf8))
        #expect(partial.isEmpty)
        try await Task.sleep(nanoseconds: 300_000_000)
        #expect(!host.log(containing: "egress refused", label: "enclave").isEmpty)
        #expect(!host.log(containing: "egress connected", label: "host").isEmpty)
        #expect(!host.log(containing: "egress connected", label: "enclave").isEmpty)
    }
}

/// Whether a process has exited but not been reaped (its parent is gone, so init reaps it soon).
func isZombie(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
    return stat.split(separator: ")").last?.trimmingCharacters(in: .whitespaces).hasPrefix("Z") ?? false
}
