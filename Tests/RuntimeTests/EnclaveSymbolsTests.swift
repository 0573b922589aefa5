import CloisterTestSupport
import Foundation
import Testing

/// The enclave executable links nothing that runs only on the host: `Scripts/check-enclave-symbols` run on the debug
/// executables this test run built (the release check is the script's own default).
@Suite struct EnclaveSymbolsTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Scripts/check-enclave-symbols")

    /// The script's counts (`symbols=…  host-side=…  enclave-side=…`) from its summary line.
    static func check(_ executable: String) async throws -> (output: BuiltTool.Output, counts: [String: Int]) {
        let binary = BuiltTool.directory.appendingPathComponent(executable).path
        let output = try await BuiltTool.run(executable: script, ["--binary", binary], environment: [:])
        let summary = try #require(output.stdout.split(separator: "\n").last { $0.hasPrefix("check-enclave-symbols: ") })
        var counts: [String: Int] = [:]
        for field in summary.split(separator: " ") {
            let parts = field.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let n = Int(parts[1]) { counts[String(parts[0])] = n }
        }
        return (output, counts)
    }

    @Test func theEnclaveHoldsNoHostSideSymbol() async throws {
        let (output, counts) = try await Self.check("cloister-enclave")
        #expect(output.status == 0, "\(output.stderr)")
        #expect(counts["host-side"] == 0, "\(output.stderr)")
        // The listing is a real one: the enclave half of the bridge is in it.
        #expect((counts["enclave-side"] ?? 0) > 0, "\(output.stdout)")
        #expect((counts["host-types"] ?? 0) > 10, "\(output.stdout)")
    }

    /// The same check on the host executable fails, and names the host half's types: the check can fail.
    @Test func theHostExecutableFailsTheCheck() async throws {
        let (output, counts) = try await Self.check("cloister-host")
        #expect(output.status == 1)
        #expect((counts["host-side"] ?? 0) > 0, "\(output.stdout)")
        for type in ["BridgeHost.BridgeServer", "BridgeHost.IngressPool", "BridgeHost.IdleTunnelGuard", "HostRuntime.HostService"] {
            #expect(output.stderr.contains(type), "\(type) not listed")
        }
    }
}
