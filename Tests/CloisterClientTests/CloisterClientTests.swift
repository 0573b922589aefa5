import CloisterClient
import EnclaveWire
import Foundation
import NitroAttestation
import Testing

/// The client against a host of software enclaves over real HTTP: the deployment every identity must carry, the
/// scheduled re-attestation, and what a boot change makes it fetch.
@Suite struct CloisterClientTests {
    static let first = [UInt8](repeating: 0xD1, count: 32)
    static let second = [UInt8](repeating: 0xD2, count: 32)

    static func client(_ url: URL, trust: TrustManifest = TestEnclave.trust, deployment: [UInt8]? = nil, reattestAfter: Duration = .seconds(3600))
        -> CloisterClient
    {
        CloisterClient(baseURL: url, token: nil, trust: trust, roots: TestEnclave.roots, tenant: "acme", deployment: deployment, reattestAfter: reattestAfter)
    }

    static func started(_ enclave: TestEnclave) async throws -> (TestHost, URL) {
        let host = TestHost(enclave)
        return (host, try await host.start())
    }

    @Test func theFirstDeploymentSeenIsKeptAndANewOneRefused() async throws {
        let enclave = try await TestEnclave(deployment: Self.first)
        let (host, url) = try await Self.started(enclave)
        defer { host.stop() }
        let client = Self.client(url)
        #expect(client.deployment == nil)
        let identity = try await client.connect()
        #expect(identity.deployment == Self.first)
        #expect(identity.boot == enclave.identity.bootHash)
        #expect(client.deployment == Self.first)
        _ = try await client.call("echo", body: [1])

        // The host hid the sealed master secret: the enclave restarts as a new deployment of the same build.
        host.restart(as: try await TestEnclave(deployment: Self.second))
        do {
            _ = try await client.call("echo", body: [2])
            Issue.record("a new deployment was accepted")
        } catch {
            #expect(error.code == .deploymentChanged)
            #expect(error.message.contains(Hex.encode(Self.second)) && error.message.contains(Hex.encode(Self.first)), "\(error.message)")
        }
        #expect(client.identities.count == 1, "the identity of the other deployment must not be kept")
        #expect(client.deployment == Self.first)
    }

    @Test func thePinnedDeploymentComesFirstThenTheRememberedOne() async throws {
        let (host, url) = try await Self.started(try await TestEnclave(deployment: Self.first))
        defer { host.stop() }
        var pinned = TestEnclave.trust
        pinned.deployment = Self.second
        await #expect(throws: ClientError(.deploymentChanged, "")) { try await Self.client(url, trust: pinned).connect() }
        await #expect(throws: ClientError(.deploymentChanged, "")) { try await Self.client(url, deployment: Self.second).connect() }
        try await Self.client(url, deployment: Self.first).connect()
        // The manifest's pin wins over a remembered commitment.
        pinned.deployment = Self.first
        let client = Self.client(url, trust: pinned, deployment: Self.second)
        #expect(client.deployment == Self.first)
        try await client.connect()
    }

    @Test func aDocumentWithoutACommitmentCountsAsChanged() async throws {
        let (host, url) = try await Self.started(try await TestEnclave())
        defer { host.stop() }
        let identity = try await Self.client(url).connect()
        #expect(identity.deployment == nil)
        do {
            try await Self.client(url, deployment: Self.first).connect()
            Issue.record("a document without a commitment was accepted")
        } catch {
            #expect(error.code == .deploymentChanged)
            #expect(error.message.contains("no deployment commitment"), "\(error.message)")
        }
    }

    @Test func adoptRefusesAnIdentityOfAnotherDeployment() async throws {
        let other = try await TestEnclave(deployment: Self.second)
        let identity = try AttestedIdentity.verifyBootDocument(other.identity.bootDocument, roots: TestEnclave.roots, trust: TestEnclave.trust)
        let client = Self.client(URL(string: "http://127.0.0.1:9/")!, deployment: Self.first)
        #expect(throws: ClientError(.deploymentChanged, "")) { try client.adopt(identity) }
        #expect(client.identities.isEmpty)
        let unpinned = Self.client(URL(string: "http://127.0.0.1:9/")!)
        try unpinned.adopt(identity)
        #expect(unpinned.deployment == Self.second)
    }

    @Test func anIdentityOlderThanTheScheduleIsAttestedAgain() async throws {
        let (host, url) = try await Self.started(try await TestEnclave(deployment: Self.first))
        defer { host.stop() }
        let patient = Self.client(url)
        _ = try await patient.call("echo", body: [1])
        _ = try await patient.call("echo", body: [2])
        #expect(host.attestations == 1)
        let eager = Self.client(url, reattestAfter: .milliseconds(5))
        _ = try await eager.call("echo", body: [1])
        try await Task.sleep(for: .milliseconds(20))
        _ = try await eager.call("echo", body: [2])
        #expect(host.attestations == 3)
    }

    @Test func aRestartIsFollowedByAFreshAttestationNotABootFetch() async throws {
        let (host, url) = try await Self.started(try await TestEnclave(deployment: Self.first))
        defer { host.stop() }
        let client = Self.client(url)
        try await client.connect()
        let next = try await TestEnclave(deployment: Self.first)
        host.restart(as: next)
        let response = try await client.call("echo", body: [1])
        #expect(response.receipt.receipt.boot == next.identity.bootHash)
        #expect(host.attestations == 2)
        #expect(host.bootFetches == 0)
        // An answer of the first boot, still known, needs nothing more.
        host.answer(fromBoot: 0)
        _ = try await client.call("echo", body: [2])
        #expect(host.attestations == 2 && host.bootFetches == 0)
    }

    @Test func aLateAnswerOfAnUnknownBootIsVerifiedThroughItsBootDocument() async throws {
        let (host, url) = try await Self.started(try await TestEnclave(deployment: Self.first))
        defer { host.stop() }
        let client = Self.client(url)
        try await client.connect()
        host.restart(as: try await TestEnclave(deployment: Self.first))
        host.restart(as: try await TestEnclave(deployment: Self.first))
        host.answer(fromBoot: 1)
        _ = try await client.call("echo", body: [1])
        #expect(host.attestations == 2)
        #expect(host.bootFetches == 1)

        // The boot document of another deployment is refused as such.
        host.restart(as: try await TestEnclave(deployment: Self.second))
        host.restart(as: try await TestEnclave(deployment: Self.first))
        host.answer(fromBoot: 3)
        await #expect(throws: ClientError(.deploymentChanged, "")) { try await client.call("echo", body: [2]) }
    }
}
