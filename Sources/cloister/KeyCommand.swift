import ArgumentParser
import CloisterClient
import Foundation
import NitroAttestation

/// `cloister key URL ACTION ...`: the key service's operations, each a verified call.
struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Use the key service: create, list, describe, rotate, configure, delete, sign, verify, encrypt, decrypt, rewrap.",
        discussion: """
            Every answer is a signed response, verified against the attested enclave identity (cached by `cloister \
            connect` and used while younger than --reattest-after, else fetched) before it is printed. The enclave \
            must present the deployment commitment remembered for the URL or pinned by the manifest (see `cloister \
            connect --help`), else the command fails with deploymentChanged; and every answer must carry the root of \
            the tenant remembered for it (known-tenants beside known-deployments), else tenantChanged.

            create, rotate, configure, delete, sign, encrypt, decrypt and rewrap are actions: the request is sealed \
            to the attested boot's HPKE key and signed with your program key (--credential; made on first use), \
            whose public key must be one of the tenant's credentials (`cloister credential URL init` registers a \
            new tenant's first one); the result comes back sealed to this command. list, describe and verify need \
            only the token. Inputs and outputs that are bytes are base64 in --json mode; --data takes text and \
            --data-file a file. Examples:
              cloister key URL create signer --type ed25519
              cloister key URL sign signer --data 'hello'
              cloister key URL verify signer --data 'hello' --signature cloister:v1:...
              cloister key URL create box --type aes256-gcm
              cloister key URL encrypt box --data 'secret'
              cloister key URL decrypt box --ciphertext cloister:xaes:v1:...
              cloister key URL configure box --min-decryption-version 2 --deletion-allowed true
            """)

    @Argument(help: "The host's API URL.")
    var url: String

    @Argument(help: ArgumentHelp("What to do.", valueName: "create|list|describe|rotate|configure|delete|sign|verify|encrypt|decrypt|rewrap"))
    var action: String

    @Argument(help: "The key's name (every action but list).")
    var name: String?

    @Option(help: "create: ecdsa-p256, ecdsa-p384, ed25519 or aes256-gcm.")
    var type: String?

    @Option(help: "sign, verify, encrypt: the input as text.")
    var data: String?

    @Option(name: .customLong("data-file"), help: "sign, verify, encrypt: the input from a file.")
    var dataFile: String?

    @Flag(help: "sign, verify: --data/--data-file is already a SHA-256 (P-256) or SHA-384 (P-384) digest, in hex.")
    var prehashed = false

    @Option(help: "verify: the signature (cloister:vN:...).")
    var signature: String?

    @Option(help: "decrypt, rewrap: the ciphertext (cloister:xaes:vN:..., or the earlier cloister:vN:...).")
    var ciphertext: String?

    @Option(help: "encrypt, decrypt, rewrap: associated context, as text (must match to decrypt).")
    var context: String?

    @Option(name: .customLong("min-decryption-version"), help: "configure: retire versions below this one.")
    var minDecryptionVersion: Int?

    @Option(name: .customLong("deletion-allowed"), help: "configure: true or false.")
    var deletionAllowed: Bool?

    @Option(name: .customLong("quorum"), help: ArgumentHelp("configure: K:ID,ID,... — K of these credentials must approve sign, configure and delete (0 removes the quorum).", valueName: "K:IDS"))
    var quorum: String?

    @Option(name: .customLong("approver"), help: ArgumentHelp("Another program key that approves this action too (repeatable): for keys whose policy needs a quorum.", valueName: "PEM"))
    var approvers: [String] = []

    @Flag(help: "Print the service's JSON answer as it is (after verification).")
    var json = false

    @OptionGroup var trust: TrustOptions
    @OptionGroup var token: TokenOption
    @OptionGroup var reattest: ReattestOption
    @OptionGroup var programKey: ProgramKeyOption

    func input() throws -> [UInt8]? {
        if let data { return prehashed ? try hex(data) : Array(data.utf8) }
        if let dataFile {
            let bytes = try readFile(dataFile, what: "input")
            return prehashed ? try hex(String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) : bytes
        }
        return nil
    }

    func hex(_ text: String) throws -> [UInt8] {
        guard let b = Hex.decode(text) else { throw ValidationError("--prehashed wants the digest in hex") }
        return b
    }

    func body() throws -> [UInt8] {
        var fields: [String: Any] = [:]
        if action != "list" {
            guard let name else { throw ValidationError("\(action) needs a key name") }
            fields["name"] = name
        }
        switch action {
        case "create":
            guard let type else { throw ValidationError("create needs --type") }
            fields["type"] = type
        case "sign", "verify", "encrypt":
            guard let input = try input() else { throw ValidationError("\(action) needs --data or --data-file") }
            fields[action == "encrypt" ? "plaintext" : "input"] = Base64.encode(input)
            if prehashed { fields["prehashed"] = true }
            if action == "verify" {
                guard let signature else { throw ValidationError("verify needs --signature") }
                fields["signature"] = signature
            }
        case "decrypt", "rewrap":
            guard let ciphertext else { throw ValidationError("\(action) needs --ciphertext") }
            fields["ciphertext"] = ciphertext
        case "configure":
            if let minDecryptionVersion { fields["minDecryptionVersion"] = minDecryptionVersion }
            if let deletionAllowed { fields["deletionAllowed"] = deletionAllowed }
            if let quorum {
                let parts = quorum.split(separator: ":", maxSplits: 1)
                guard let k = Int(parts.first ?? ""), k >= 0 else { throw ValidationError("--quorum is K:ID,ID,... (K a number)") }
                fields["quorum"] = k == 0 ? ["k": 0] : ["k": k, "credentials": parts.count > 1 ? parts[1].split(separator: ",").map(String.init) : []]
            }
        case "list", "describe", "rotate", "delete": break
        default: throw ValidationError("unknown action \(action) (try --help)")
        }
        if let context, ["encrypt", "decrypt", "rewrap"].contains(action) { fields["context"] = Base64.encode(Array(context.utf8)) }
        return Array(try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]))
    }

    func run() async throws {
        let request = try body()
        let isAction = !["list", "describe", "verify"].contains(action)
        var session = try AttestedSession(url: url, trust: trust, token: token, reattest: reattest, credential: isAction ? try programKey.load() : nil)
        try await reporting("key \(action)") {
            try session.prepare()
            let r = try await session.run { client in
                isAction
                    ? try await client.act("key." + action, body: request, approvers: approvers.map { try ProgramKey.load(path: $0) })
                    : try await client.call("key." + action, body: request)
            }
            let text = String(decoding: r.result, as: UTF8.self)
            if json {
                print(text)
            } else {
                defer { if action == "verify" && Self.human(action, text) != "valid" { Foundation.exit(1) } }
                print(Self.human(action, text))
                let receipt = r.receipt.receipt
                FileHandle.standardError.write(Data("verified: signed by the attested enclave (receipt \(receipt.sequence) of boot \(Hex.encode(receipt.boot).prefix(16))…)\n".utf8))
            }
        }
    }

    /// The answer's main field for people; everything else with --json.
    static func human(_ action: String, _ json: String) -> String {
        guard let o = (try? JSONValue.parse(Array(json.utf8)))?.object else { return json }
        switch action {
        case "sign": return o["signature"]?.string ?? json
        case "encrypt", "rewrap": return o["ciphertext"]?.string ?? json
        case "decrypt": return o["plaintext"]?.string.flatMap { Base64.decode($0) }.map { String(decoding: $0, as: UTF8.self) } ?? json
        case "verify": return o["valid"]?.bool == true ? "valid" : "INVALID"
        case "list": return (o["keys"]?.items ?? []).compactMap(\.string).joined(separator: "\n")
        default: return json
        }
    }
}
