import ArgumentParser
import CloisterClient
import Foundation
import NitroAttestation

struct ConnectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connect",
        abstract: "Attest a Cloister enclave: fetch a document with a fresh nonce, verify it, print and cache the identity.",
        discussion: """
            Verifies the root (AWS's, or --root), the certificate chain, the document's signature, the PCRs the \
            manifest pins (or those of one of the other builds it lists), the nonce, the freshness (the manifest's \
            maxAgeSeconds, else 300 s) and that the document binds an identity key and Cloister's claims. The \
            identity is cached (CLOISTER_CACHE_DIR, else $XDG_CACHE_HOME/cloister, else ~/.cache/cloister) for later \
            `cloister call` and `cloister key` commands, which verify every response against it.

            The deployment line is the enclave's deployment commitment: a public key derived from the deployment's \
            master secret, the same across restarts and authorised builds. Like SSH's known_hosts, the first one \
            seen for a URL is remembered in known-deployments (in CLOISTER_CONFIG_DIR, else \
            $XDG_CONFIG_HOME/cloister, else ~/.config/cloister; one line `URL HEX` per service), and every later \
            connect, call, key and audit command for that URL must find the same one, or the one the manifest pins \
            (attestation.deployment). A different one fails with deploymentChanged: a host that hid the sealed \
            master secret would make the enclave start a new deployment, with new keys and a new log. If the change \
            is expected (a new deployment made on purpose), --accept-new-master remembers the new one in place of \
            the old.
            """)

    @Argument(help: "The host's API URL, e.g. http://127.0.0.1:8080")
    var url: String

    @OptionGroup var trust: TrustOptions

    @Flag(
        name: .customLong("accept-new-master"),
        help: "Accept a deployment commitment other than the remembered one, and remember it instead (only when the change is expected).")
    var acceptNewMaster = false

    func run() async throws {
        let base = try parseURL(url)
        let pins = try trust.trust()
        var deployment = try ServiceDeployment(url: base)
        let client = CloisterClient(
            baseURL: base, token: nil, trust: pins, roots: try trust.roots(), deployment: acceptNewMaster ? nil : deployment.remembered)
        try await reporting("connect") {
            if !acceptNewMaster { try deployment.check(pin: pins.deployment) }
            let identity = try await connected(client, deployment)
            print(describe(identity))
            print(try deployment.settle(identity.deployment, acceptNew: acceptNewMaster))
            try IdentityCache.save(identity, url: base)
            print("verified: root, chain, signature, pinned PCRs, nonce, freshness, deployment; cached in \(IdentityCache.path(for: base))")
        }
    }

    /// The client's fresh identity; a `deploymentChanged` is explained.
    private func connected(_ client: CloisterClient, _ deployment: ServiceDeployment) async throws -> AttestedIdentity {
        do { return try await client.connect() } catch let error as ClientError where error.code == .deploymentChanged { throw deployment.explain(error) }
    }
}
