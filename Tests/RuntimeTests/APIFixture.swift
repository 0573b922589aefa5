import CloisterClient
import CloisterTestSupport
import EnclaveRuntime
import Foundation
import NitroAttestation
import SecureModule

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A real host with the request path, a tenant with a token, an auditor token, and the pins and root a client
/// of this emulated build trusts.
struct APIFixture {
    let host: HostProcess
    let base: URL
    let trust: TrustManifest
    let roots: TrustedRoots
    let tenantToken: String
    let auditorToken: String
    /// The program key of tenant `acme`'s first credential (kept across restarts).
    let credential: CredentialKey

    /// How `start` knows the enclave serves.
    enum Readiness {
        /// An attestation request without a token is answered.
        case attestation
        /// The enclave's queue connection is up (`/metrics`); for a host whose attestation rate a test measures.
        case queueConnection
    }

    /// Starts a host (or restarts `previous`'s on its data); `wait: false` does not wait for the enclave to serve
    /// (a boot that is meant to be refused), and then needs `previous`.
    static func start(
        restart previous: APIFixture? = nil, hostArguments: HostArguments = .none, environment: [String: String] = [:], wait: Bool = true,
        readiness: Readiness = .attestation,
        edit: (inout [String: Any]) -> Void = { _ in }
    ) async throws -> APIFixture {
        let host = try await HostProcess.start(api: true, restart: previous?.host, hostArguments: hostArguments, environment: environment, edit: edit)
        let base = URL(string: "http://127.0.0.1:\(host.ports.api)/")!
        if wait {
            switch readiness {
            case .attestation: try await waitForQueue(base, host: host)
            case .queueConnection: try await waitForQueueConnection(host)
            }
        }
        let trust = TrustManifest(pcrs: try pins(manifest: host.directory.appendingPathComponent("manifest.json")))
        guard wait || previous != nil else { throw HarnessError("a host not waited for needs the tokens of an earlier one") }
        let root = try EmulatedRoot.load(directory: host.directory.appendingPathComponent("emulator").path)
        if let previous {
            return APIFixture(
                host: host, base: base, trust: trust, roots: TrustedRoots(certificates: [root.certificate]), tenantToken: previous.tenantToken,
                auditorToken: previous.auditorToken, credential: previous.credential)
        }
        let admin = ["Authorization": "Bearer " + HostProcess.adminToken]
        let (s1, _, _) = try await http("POST", base, "v1/admin/tenants", headers: admin, body: Array("{\"name\":\"acme\"}".utf8))
        guard s1 == 201 else { throw HarnessError("tenant: \(s1)") }
        let (s2, b2, _) = try await http("POST", base, "v1/admin/tokens", headers: admin, body: Array("{\"tenant\":\"acme\"}".utf8))
        let (s3, b3, _) = try await http("POST", base, "v1/admin/tokens", headers: admin, body: Array("{\"role\":\"auditor\"}".utf8))
        guard s2 == 201, s3 == 201, let t = token(b2), let a = token(b3) else { throw HarnessError("tokens: \(s2) \(s3)") }
        return APIFixture(
            host: host, base: base, trust: trust, roots: TrustedRoots(certificates: [root.certificate]), tenantToken: t, auditorToken: a,
            credential: try CredentialKey.generate(.ed25519))
    }

    /// A bridge credential of the build this fixture's host launches, under its emulated root (which this machine's
    /// owner holds): what the host's pins let onto its bridge.
    func bridgeCredential() async throws -> BridgeCredential {
        try await TestBridgeProof.credential(
            emulatorDirectory: host.directory.appendingPathComponent("emulator").path,
            executable: Array(try Data(contentsOf: HostProcess.buildDirectory.appendingPathComponent("cloister-enclave"))),
            manifest: Array(try Data(contentsOf: host.directory.appendingPathComponent("manifest.json"))))
    }

    /// The PCR0-2 the software secure module reports for the test build of `cloister-enclave` with `manifest`.
    static func pins(manifest: URL) throws -> [Int: [UInt8]] {
        let executable = try Data(contentsOf: HostProcess.buildDirectory.appendingPathComponent("cloister-enclave"))
        let m = EnclaveImage(executable: Array(executable), manifest: Array(try Data(contentsOf: manifest))).measurements
        return [0: m[0]!, 1: m[1]!, 2: m[2]!]
    }

    /// `pins` as a pins file (`cloister measure`'s format) at `url`.
    static func writePins(_ pins: [Int: [UInt8]], to url: URL) throws {
        let pcrs = Dictionary(uniqueKeysWithValues: pins.map { ("PCR\($0.key)", Hex.encode($0.value)) })
        try JSONSerialization.data(withJSONObject: ["Measurements": pcrs], options: [.sortedKeys]).write(to: url)
    }

    /// These pins as a pins file (`cloister measure`'s format) in the host's directory.
    func pinsFile(_ name: String) throws -> String {
        let url = host.directory.appendingPathComponent(name)
        try Self.writePins(trust.pcrs, to: url)
        return url.path
    }

    /// A client of tenant `tenant` (default `acme`, with the fixture's token and credential).
    func client(base: URL? = nil, token: String? = nil, tenant: String = "acme", credential: CredentialKey? = nil, maxConnections: Int = 64) -> CloisterClient {
        CloisterClient(
            baseURL: base ?? self.base, token: token ?? tenantToken, trust: trust, roots: roots, patience: .seconds(120), maxConnections: maxConnections,
            tenant: tenant, credential: credential ?? (tenant == "acme" ? self.credential : nil))
    }

    func http(_ method: String, _ path: String, headers: [String: String] = [:], body: [UInt8]? = nil) async throws -> (Int, [UInt8], [AnyHashable: Any]) {
        try await Self.http(method, base, path, headers: headers, body: body)
    }

    /// The JSON error code of an API answer.
    static func errorCode(_ body: [UInt8]) -> String? {
        ((try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]).flatMap { $0["error"] as? [String: Any] }?["code"] as? String
    }

    static func http(_ method: String, _ base: URL, _ path: String, headers: [String: String] = [:], body: [UInt8]? = nil) async throws -> (Int, [UInt8], [AnyHashable: Any]) {
        var request = URLRequest(url: URL(string: path, relativeTo: base)!)
        request.httpMethod = method
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        if let body { request.httpBody = Data(body) }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        return (http.statusCode, Array(data), http.allHeaderFields)
    }

    static func token(_ body: [UInt8]) -> String? {
        ((try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any])?["token"] as? String
    }

    /// Waits until the enclave's queue worker is connected, as the host's metrics say, without asking the API.
    static func waitForQueueConnection(_ host: HostProcess, within seconds: Double = 60) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let value = try? await metric(host, "cloister_queue_connections"), value >= 1 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw HarnessError("the enclave's queue connection did not come up; log tail:\n\(host.tail(30))")
    }

    /// A gauge or counter of the host's `/metrics`; 0 when it is absent.
    static func metric(_ host: HostProcess, _ name: String) async throws -> Double {
        let (_, text) = try await host.admin("/metrics")
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.split(separator: " ")[1]) ?? 0
        }
        return 0
    }

    /// Waits until the enclave's queue worker is connected (an attestation request is answered).
    static func waitForQueue(_ base: URL, host: HostProcess, within seconds: Double = 60) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let (status, _, _) = try? await http("GET", base, "v1/attestation?nonce=00"), status == 200 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw HarnessError("the request path did not come up; log tail:\n\(host.tail(30))")
    }
}
