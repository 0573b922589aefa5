import CloisterClient
import Foundation
import NitroAttestation

/// What the commands that call a service share (`call`, `key`): a client that expects the deployment pinned or
/// remembered for the URL, starts from the cached identity while it is younger than the re-attestation age and
/// of that deployment, and remembers the deployment it first verifies.
struct AttestedSession {
    let base: URL
    let pins: TrustManifest
    let roots: TrustedRoots
    let client: CloisterClient
    let reattestAfter: Duration
    var deployment: ServiceDeployment

    init(url: String, trust: TrustOptions, token: TokenOption, reattest: ReattestOption) throws {
        base = try parseURL(url)
        pins = try trust.trust()
        roots = try trust.roots()
        reattestAfter = reattest.duration
        deployment = try ServiceDeployment(url: base)
        client = CloisterClient(
            baseURL: base, token: token.value, trust: pins, roots: roots, tenant: token.tenantName, deployment: deployment.remembered,
            reattestAfter: reattestAfter)
    }

    /// Adopts the cached identity if it is younger than the re-attestation age (else the first call attests
    /// afresh). A cached identity of another deployment than the expected one is refused with `deploymentChanged`.
    func prepare() throws {
        try deployment.check(pin: pins.deployment)
        if let cached = IdentityCache.load(url: base, trust: pins, roots: roots, maxAge: reattestAfter) { try adopt(cached) }
    }

    private func adopt(_ cached: AttestedIdentity) throws(ClientError) {
        do { try client.adopt(cached) } catch {
            throw error.code == .deploymentChanged ? deployment.explain(error, context: "the cached identity (\(IdentityCache.path(for: base))): ") : error
        }
    }

    /// Runs `body` with the client; a `deploymentChanged` on the way (a fresh identity of another deployment) is
    /// explained. Then remembers the deployment the client verified if none was remembered, saying so on standard
    /// error, and caches the newest fresh identity the client took.
    mutating func run<T>(_ body: (CloisterClient) async throws -> T) async throws -> T {
        let cached = client.identities.map(\.documentHash)
        do {
            let result = try await body(client)
            if let line = try deployment.learn(client.deployment) { FileHandle.standardError.write(Data((line + "\n").utf8)) }
            let fresh = client.identities.filter { $0.document.nonce != nil }.max { $0.document.timestamp < $1.document.timestamp }
            if let fresh, !cached.contains(fresh.documentHash) { try IdentityCache.save(fresh, url: base) }
            return result
        } catch let error as ClientError where error.code == .deploymentChanged {
            throw deployment.explain(error)
        }
    }
}
