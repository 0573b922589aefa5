import CloisterTestSupport
import Foundation
import NitroAttestation
import Testing

/// Runs python3 scripts for the interoperability tests. The packages they import are installed by
/// Scripts/bootstrap; a missing one fails the test (never skips it), saying which and how to get it.
enum Python {
    /// Runs `script` with `python3 -c` and `arguments`; its standard output, or a failure that says what
    /// python3 said.
    static func run(_ script: String, _ arguments: [String], needs packages: String) throws -> String {
        let output = try BuiltTool.runBlocking(
            executable: URL(fileURLWithPath: "/usr/bin/env"),
            ["python3", "-c", script] + arguments,
            environment: [:]
        )
        let hint =
            output.stderr.contains("No module named") ? " (python3 lacks \(packages): run Scripts/bootstrap)" : ""
        try #require(output.status == 0, "python3 with \(packages) failed\(hint): \(output.stderr)")
        return output.stdout
    }

    /// The output parsed as a JSON object.
    static func json(_ script: String, _ arguments: [String], needs packages: String) throws -> [String: Any] {
        let out = try run(script, arguments, needs: packages)
        let object = try JSONSerialization.jsonObject(with: Data(out.utf8))
        return try #require(object as? [String: Any], "python3 printed \(out.prefix(200))")
    }

    /// The bytes of a hex member of a JSON object printed by a script.
    static func bytes(_ object: [String: Any], _ key: String) throws -> [UInt8] {
        let text = try #require(object[key] as? String, "no hex member \(key)")
        return try #require(Hex.decode(text), "member \(key) is not hex")
    }
}
