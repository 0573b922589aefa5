import ArgumentParser
import CloisterClient
import Foundation
import NitroAttestation
import SecureModule

/// What the commands that call a service share (`call`, `key`, `credential`): a client that expects the deployment
/// pinned or remembered for the URL and the tenant root remembered for its tenant there, starts from the cached
/// identity while it is younger than the re-attestation age and of that deployment, and remembers the deployment
/// and the tenant root it first verifies.
struct AttestedSession {
    let base: URL
    let pins: TrustManifest
    let roots: TrustedRoots
    let client: CloisterClient
    let reattestAfter: Duration
    var deployment: ServiceDeployment
    var tenants: KnownDeployments
    let tenant: String

    /// `credential`: the program key that signs actions (nil: reads only).
    init(url: String, trust: TrustOptions, token: TokenOption, reattest: ReattestOption, credential: CredentialKey? = nil) throws {
        base = try parseURL(url)
        pins = try trust.trust()
        roots = try trust.roots()
        reattestAfter = reattest.duration
        guard let tenant = token.tenantName else {
            throw ValidationError("the tenant is required (--tenant or CLOISTER_TENANT): every receipt must name it, and its root is checked")
        }
        deployment = try ServiceDeployment(url: base)
        tenants = try KnownDeployments.load(path: KnownDeployments.tenantsPath())
        self.tenant = tenant
        let expected = pins.deployment ?? deployment.remembered
        let known = tenants
        let root = expected.flatMap { [base] in known[Self.tenantKey(base, $0, tenant)] }
        client = CloisterClient(
            baseURL: base, token: token.value, trust: pins, roots: roots, tenant: tenant, deployment: deployment.remembered,
            reattestAfter: reattestAfter, credential: credential, tenantRoot: root)
        if let d = deployment.remembered, let note = try KnownLogHeads.load(for: d) {
            do { try client.rememberLogHead(note) } catch {
                throw ValidationError("\(KnownLogHeads.path(for: d)): not a log head of deployment \(Hex.encode(d)): \(error)")
            }
        }
    }

    /// Where a tenant's root is remembered: the service URL with `deployments/HEX/tenants/NAME/` (a tenant is one of
    /// a deployment; a new deployment has new tenants).
    static func tenantKey(_ base: URL, _ deployment: [UInt8], _ tenant: String) -> URL {
        base.appendingPathComponent("deployments/\(Hex.encode(deployment))/tenants/\(tenant)/")
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
            if let d = client.deployment, let root = client.tenantRoot, tenants[Self.tenantKey(base, d, tenant)] == nil {
                let key = Self.tenantKey(base, d, tenant)
                tenants.remember(root, for: key)
                try tenants.save()
                FileHandle.standardError.write(Data("tenant root \(Hex.encode(root)) remembered for \(key.absoluteString) (in \(tenants.path))\n".utf8))
            }
            let fresh = client.identities.filter { $0.document.nonce != nil }.max { $0.document.timestamp < $1.document.timestamp }
            if let fresh, !cached.contains(fresh.documentHash) { try IdentityCache.save(fresh, url: base) }
            if let d = client.deployment, let head = client.logHead { try KnownLogHeads.save(head, for: d) }
            return result
        } catch let error as ClientError where error.code == .deploymentChanged {
            throw deployment.explain(error)
        } catch let error as ClientError where error.code == .logForked {
            let saved = client.deployment.map { " (the newest head seen before is in \(KnownLogHeads.path(for: $0)))" } ?? ""
            throw ClientError(.logForked, "\(error.message)\(saved): the host shows a log that is not the one seen before")
        } catch let error as ClientError where error.code == .tenantChanged {
            throw ClientError(
                .tenantChanged,
                "\(error.message) (remembered in \(tenants.path)). If the tenant was made again on purpose, delete its line there; if not, the host made this tenant under a credential of its own")
        }
    }
}
