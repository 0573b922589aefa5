import ArgumentParser
import CloisterClient
import Foundation
import NitroAttestation
import SecureModule

/// `cloister credential ...`: the tenant's credentials, which only its own credentials change.
struct CredentialCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "credential",
        abstract: "A tenant's credentials: show your program key, make a tenant with it, add, revoke and list credentials.",
        discussion: """
            A tenant's credentials are public keys whose signatures authorise its actions (creating, using and \
            changing keys, and changing credentials). Your program key (--credential; made on first use, Ed25519, in a \
            0600 file) is one. A tenant comes into being with its first credential: `init` registers your program key \
            as that credential, signed by itself, and its id becomes the tenant's root, which every answer about the \
            tenant carries and this command remembers (known-tenants). After that only a current credential can add \
            or revoke one. The host's admin creates tenant names and tokens; it cannot add a credential.

            Losing every credential of a tenant loses its keys: no operator can restore them. Add a second credential \
            (kept offline) for recovery. Examples:
              cloister credential show                                   # your program key: kind, id, public key
              cloister credential URL init                               # a new tenant, with your key as its first credential
              cloister credential URL add --kind ed25519 --public-key BASE64 --label ci
              cloister credential URL revoke ID
              cloister credential URL list
            """)

    @Argument(help: ArgumentHelp("The host's API URL, then what to do; or just `show`.", valueName: "URL|show"))
    var url: String

    @Argument(help: ArgumentHelp("What to do.", valueName: "init|add|revoke|list"))
    var action: String?

    @Argument(help: "revoke: the credential's id (64 hex digits).")
    var id: String?

    @Option(help: "add: the new credential's kind, ed25519 or ecdsa-p256.")
    var kind: String?

    @Option(name: .customLong("public-key"), help: "add: the new credential's public key, base64 DER SubjectPublicKeyInfo (what `credential show` prints).")
    var publicKey: String?

    @Option(help: "init, add: a label for the credential (1 to 64 bytes).")
    var label: String?

    @Flag(help: "Print the service's JSON answer as it is (after verification).")
    var json = false

    @OptionGroup var trust: TrustOptions
    @OptionGroup var token: TokenOption
    @OptionGroup var reattest: ReattestOption
    @OptionGroup var programKey: ProgramKeyOption

    func validate() throws {
        if url == "show" { return }
        guard let action, ["init", "add", "revoke", "list"].contains(action) else { throw ValidationError("the action is init, add, revoke or list (try --help)") }
        if action == "revoke" && id == nil { throw ValidationError("revoke needs the credential's id") }
        if action == "add" && (kind == nil || publicKey == nil) { throw ValidationError("add needs --kind and --public-key") }
    }

    func run() async throws {
        if url == "show" {
            let key = try programKey.load()
            print("kind        \(key.kind.rawValue)")
            print("id          \(Hex.encode(SHA.sha256(key.spki)))")
            print("public key  \(Base64.encode(key.spki))")
            print("file        \(programKey.path)")
            return
        }
        let action = self.action!
        var fields: [String: Any] = [:]
        switch action {
        case "init":
            let key = try programKey.load()
            fields = ["kind": key.kind.rawValue, "publicKey": Base64.encode(key.spki)]
        case "add": fields = ["kind": kind!, "publicKey": publicKey!]
        case "revoke": fields = ["id": id!]
        default: break
        }
        if let label, ["init", "add"].contains(action) { fields["label"] = label }
        let body = Array(try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]))
        let operation = action == "init" ? "credential.add" : "credential." + action
        var session = try AttestedSession(
            url: url, trust: trust, token: token, reattest: reattest, credential: action == "list" ? nil : try programKey.load())
        try await reporting("credential \(action)") {
            try session.prepare()
            let r = try await session.run { client in
                action == "list" ? try await client.call(operation, body: body) : try await client.act(operation, body: body)
            }
            let text = String(decoding: r.result, as: UTF8.self)
            if json {
                print(text)
                return
            }
            guard let o = (try? JSONValue.parse(r.result))?.object else {
                print(text)
                return
            }
            print("tenant root  \(o["root"]?.string ?? "?")")
            for c in o["credentials"]?.items ?? [] {
                guard let c = c.object else { continue }
                let state = c["revoked"]?.number != nil ? "REVOKED" : "active"
                print("  \(c["id"]?.string ?? "?")  \(c["kind"]?.string ?? "?")  \(state)  \(c["label"]?.string ?? "")")
            }
            let receipt = r.receipt.receipt
            FileHandle.standardError.write(Data("verified: signed by the attested enclave (receipt \(receipt.sequence) of boot \(Hex.encode(receipt.boot).prefix(16))…)\n".utf8))
        }
    }
}
