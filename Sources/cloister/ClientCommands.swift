import ArgumentParser
import CloisterClient
import EnclaveWire
import Foundation
import NitroAttestation

/// Where to reach a host and what to trust, shared by the client commands.
struct TrustOptions: ParsableArguments {
    @Option(help: "Pins: a Cloister manifest with an attestation section, or the JSON nitro-cli build-enclave / describe-eif prints.")
    var manifest: String

    @Option(help: ArgumentHelp("Trust this root certificate (PEM) instead of AWS's: the emulated root in emulation.", valueName: "PEM"))
    var root: String?

    func trust() throws -> TrustManifest {
        do { return try TrustManifest.parse(try readFile(manifest, what: "manifest")) } catch let e as TrustManifest.Error {
            throw ValidationError("\(manifest): \(e)")
        }
    }

    func roots() throws -> TrustedRoots {
        guard let root else { return .aws }
        let pem = String(decoding: try readFile(root, what: "root"), as: UTF8.self)
        guard let certs = try? X509Certificate.fromPEM(pem), !certs.isEmpty else { throw ValidationError("\(root) holds no PEM certificate") }
        return TrustedRoots(certificates: certs)
    }
}

struct TokenOption: ParsableArguments {
    @Option(help: ArgumentHelp("The API token (default: $CLOISTER_TOKEN).", valueName: "TOKEN"))
    var token: String?

    @Option(help: ArgumentHelp("The tenant the token belongs to (default: $CLOISTER_TENANT); required by call, key and credential: every receipt must name it, and its root is checked.", valueName: "NAME"))
    var tenant: String?

    var value: String? { token ?? ProcessInfo.processInfo.environment["CLOISTER_TOKEN"] }
    var tenantName: String? { tenant ?? ProcessInfo.processInfo.environment["CLOISTER_TENANT"] }
}

/// The identity cache `connect` writes and `call` reads: one JSON file per host URL.
enum IdentityCache {
    static func directory() -> String {
        if let d = ProcessInfo.processInfo.environment["CLOISTER_CACHE_DIR"] { return d }
        if let x = ProcessInfo.processInfo.environment["XDG_CACHE_HOME"] { return x + "/cloister" }
        return (ProcessInfo.processInfo.environment["HOME"] ?? ".") + "/.cache/cloister"
    }

    static func path(for url: URL) -> String {
        directory() + "/identity-" + Hex.encode(SHA.sha256(Array(url.absoluteString.utf8)).prefix(8)) + ".json"
    }

    static func save(_ identity: AttestedIdentity, url: URL) throws {
        try FileManager.default.createDirectory(atPath: directory(), withIntermediateDirectories: true)
        let json = "{\"url\":\"\(url.absoluteString)\",\"document\":\"\(Base64.encode(identity.documentBytes))\"}\n"
        try Data(json.utf8).write(to: URL(fileURLWithPath: path(for: url)), options: .atomic)
    }

    /// The cached document, verified again against today's pins and root (at its own time: its nonce and
    /// freshness were checked when it was fetched). One that no longer verifies (the pins changed) or is older than
    /// `maxAge` is not used: the client then attests afresh.
    static func load(url: URL, trust: TrustManifest, roots: TrustedRoots, maxAge: Duration) -> AttestedIdentity? {
        guard let data = FileManager.default.contents(atPath: path(for: url)), let value = try? JSONValue.parse(Array(data)),
            let text = value.object?["document"]?.string, let doc = Base64.decode(text)
        else { return nil }
        let identity: AttestedIdentity
        do { identity = try AttestedIdentity.verifyBootDocument(doc, roots: roots, trust: trust) } catch {
            FileHandle.standardError.write(Data("cloister: the cached identity no longer meets the pins (\(error.code.rawValue)); attesting again\n".utf8))
            return nil
        }
        return identity.age() > maxAge ? nil : identity
    }
}

/// Runs `body`; a `ClientError` is printed as `cloister COMMAND: code: message` and exits 1 (the code names the check).
func reporting(_ command: String, _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let e as ClientError {
        FileHandle.standardError.write(Data("cloister \(command): \(e)\n".utf8))
        throw ExitCode(1)
    }
}

func parseURL(_ text: String) throws -> URL {
    guard let url = URL(string: text.hasSuffix("/") ? text : text + "/"), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
        throw ValidationError("\(text) is not an http(s) URL")
    }
    return url
}

func describe(_ identity: AttestedIdentity) -> String {
    let d = identity.document
    var lines = [
        "attested enclave identity",
        "  root           \(identity.isAWSRoot ? "AWS Nitro Enclaves Root-G1" : "a configured root (NOT AWS: emulation or test)")",
        "  module         \(d.moduleID)",
        "  document       \(Hex.encode(identity.documentHash))",
        "  identity key   ES384 P-384, SPKI SHA-256 \(Hex.encode(SHA.sha256(identity.key.spki)))",
        "  hpke key       X25519 \(Hex.encode(identity.claims.hpkePublicKey))",
        "  manifest hash  \(Hex.encode(identity.claims.manifestHash))",
        "  deployment     \(identity.deployment.map { Hex.encode($0) } ?? "none (this enclave holds no master secret)")",
    ]
    for i in d.pcrs.keys.sorted() where [0, 1, 2, 3, 4, 8].contains(i) {
        lines.append("  PCR\(i)\(i < 10 ? " " : "")          \(Hex.encode(d.pcrs[i]!))")
    }
    return lines.joined(separator: "\n")
}

struct CallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call",
        abstract: "Call an operation and verify the signed response against the attested identity.",
        discussion: """
            The body is --data, --data-file, or standard input. The result is written to standard output; the \
            receipt is described on standard error. Any failed check (signature, proof, request id, request hash, \
            result hash) is an error naming it, and the exit status is 1.

            The identity cached by `cloister connect` is used while its document is younger than --reattest-after \
            (else the enclave is attested again and the cache updated). The enclave must present the deployment \
            commitment the manifest pins or known-deployments remembers for the URL (see `cloister connect --help`); \
            another one, also in a cached identity or after a restart, fails with deploymentChanged. When nothing \
            is remembered yet, the first verified commitment is remembered (trust on first use).
            """)

    @Argument(help: "The host's API URL.")
    var url: String

    @Argument(help: "The operation (the test workload has echo, sha256, sleep, counter, fail).")
    var operation: String

    @Option(help: "The request body, as text.")
    var data: String?

    @Option(name: .customLong("data-file"), help: "Read the request body from this file.")
    var dataFile: String?

    @Option(name: .customLong("request-id"), help: "The request id (default: random). Reuse one to retry safely.")
    var requestID: String?

    @OptionGroup var trust: TrustOptions
    @OptionGroup var token: TokenOption
    @OptionGroup var reattest: ReattestOption

    func run() async throws {
        var session = try AttestedSession(url: url, trust: trust, token: token, reattest: reattest)
        let body: [UInt8]
        if let data { body = Array(data.utf8) } else if let dataFile { body = try readFile(dataFile, what: "body") } else if operation == "counter" || operation == "fail" {
            body = []
        } else {
            body = Array(FileHandle.standardInput.readDataToEndOfFile())
        }
        try await reporting("call") {
            try session.prepare()
            let r = try await session.run { try await $0.call(operation, body: body, requestID: requestID) }
            FileHandle.standardOutput.write(Data(r.result))
            let receipt = r.receipt.receipt
            FileHandle.standardError.write(
                Data(
                    "verified: request \(r.requestID), receipt \(receipt.sequence) of boot \(Hex.encode(receipt.boot).prefix(16))…, sealed with \(r.receipt.seal.count) receipt(s)\n".utf8))
        }
    }
}

struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin",
        abstract: "Create tenants and tokens on a host (with its admin token: --admin-token or $CLOISTER_ADMIN_TOKEN).",
        discussion: "cloister admin URL tenant NAME | cloister admin URL token NAME | cloister admin URL auditor")

    @Argument(help: "The host's API URL.")
    var url: String

    @Argument(help: ArgumentHelp("tenant NAME: create a tenant; token NAME: a token for it; auditor: an auditor token.", valueName: "tenant|token|auditor"))
    var action: String

    @Argument(help: "The tenant's name.")
    var name: String?

    @Option(name: .customLong("admin-token"), help: "The host's admin token.")
    var adminToken: String?

    func run() async throws {
        guard let admin = adminToken ?? ProcessInfo.processInfo.environment["CLOISTER_ADMIN_TOKEN"] else {
            throw ValidationError("give --admin-token or set CLOISTER_ADMIN_TOKEN")
        }
        let path: String
        let body: String
        switch (action, name) {
        case ("tenant", let n?): (path, body) = ("v1/admin/tenants", "{\"name\":\"\(AuditLog.escape(n))\"}")
        case ("token", let n?): (path, body) = ("v1/admin/tokens", "{\"tenant\":\"\(AuditLog.escape(n))\"}")
        case ("auditor", nil): (path, body) = ("v1/admin/tokens", "{\"role\":\"auditor\"}")
        default: throw ValidationError("expected: tenant NAME, token NAME or auditor")
        }
        var request = URLRequest(url: URL(string: path, relativeTo: try parseURL(url))!)
        request.httpMethod = "POST"
        request.setValue("Bearer " + admin, forHTTPHeaderField: "Authorization")
        request.httpBody = Data(body.utf8)
        let (data, response) = try await URLSession.shared.data(for: request)
        print(String(decoding: data, as: UTF8.self), terminator: "")
        guard (response as? HTTPURLResponse)?.statusCode == 201 else { throw ExitCode(1) }
    }
}

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
