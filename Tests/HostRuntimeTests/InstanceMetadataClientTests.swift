import CloisterTestSupport
import Foundation
import HostRuntime
import Testing

/// The IMDSv2 client against a local stand-in of the metadata service.
@Suite struct InstanceMetadataClientTests {
    static func client(port: Int, attempts: Int = 3, timeout: Duration = .seconds(10)) throws -> InstanceMetadataClient {
        var configuration = InstanceMetadataConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = port
        configuration.attempts = attempts
        configuration.requestTimeout = timeout
        configuration.backoff = RetryBackoff(initial: .milliseconds(100), maximum: .seconds(1))
        return try InstanceMetadataClient(configuration: configuration)
    }

    @Test func fetchesWithOneSessionToken() async throws {
        let imds = try await IMDSStandIn.start()
        defer { imds.stop() }
        let client = try Self.client(port: imds.port)
        let first = try await client.credentials()
        let second = try await client.credentials()
        #expect(first.accessKeyID == "ASIASTANDIN1")
        #expect(second.accessKeyID == "ASIASTANDIN2")
        #expect(first.expiration > Date().addingTimeInterval(3000))
        #expect(await client.tokensFetched == 1)
        #expect(imds.with { $0.tokenTTLs } == ["21600"])
    }

    @Test func refetchesATokenTheServiceNoLongerKnows() async throws {
        let imds = try await IMDSStandIn.start()
        defer { imds.stop() }
        let client = try Self.client(port: imds.port)
        _ = try await client.credentials()
        imds.with { $0.tokens = [] }
        let credentials = try await client.credentials()
        #expect(credentials.accessKeyID == "ASIASTANDIN2")
        // One new token at least; a loaded machine may time a request out and retry it with another.
        #expect(imds.with { $0.tokenPuts } >= 2)
        #expect(imds.with { $0.tokens.count } >= 1, "the credentials came with a token the stand-in issued after forgetting the first")
    }

    @Test func aFreshTokenRefusedTooIsNamed() async throws {
        let imds = try await IMDSStandIn.start()
        defer { imds.stop() }
        imds.with { $0.acceptTokens = false }
        let client = try Self.client(port: imds.port, attempts: 1)
        await #expect(throws: InstanceCredentialsError(.tokenRejected, "")) { try await client.credentials() }
    }

    @Test(arguments: ["", "two words", String(repeating: "t", count: 4097)])
    func refusesAMalformedToken(body: String) async throws {
        let imds = try await IMDSStandIn.start()
        defer { imds.stop() }
        imds.with { $0.tokenBody = body }
        let client = try Self.client(port: imds.port, attempts: 1)
        await #expect(throws: InstanceCredentialsError(.malformedToken, "")) { try await client.credentials() }
    }

    @Test(arguments: [
        (IMDSStandIn.Answer.raw("{\"Code\":"), InstanceCredentialsErrorCode.malformedJSON),
        (.document(edits: ["Code": "AssumeRoleUnauthorizedAccess"]), .notSuccess),
        (.document(edits: ["SecretAccessKey": nil]), .missingField),
        (.document(edits: ["Expiration": "2026-13-01T00:00:00Z"]), .malformedExpiration),
        (.raw(String(repeating: "x", count: 20_000)), .bodyTooLarge),
        (.status(500), .unexpectedStatus),
    ])
    func refusesMalformedAnswers(answer: IMDSStandIn.Answer, expected: InstanceCredentialsErrorCode) async throws {
        let imds = try await IMDSStandIn.start()
        defer { imds.stop() }
        imds.with { $0.answer = answer }
        let client = try Self.client(port: imds.port, attempts: 2)
        await #expect(throws: InstanceCredentialsError(expected, "")) { try await client.credentials() }
    }

    @Test func retriesWithBackoffWhenTheServiceIsDown() async throws {
        let client = try Self.client(port: try freePort(), attempts: 3)
        let started = ContinuousClock.now
        await #expect(throws: InstanceCredentialsError(.unreachable, "")) { try await client.credentials() }
        // Two waits between three tries: 100 ms, then 200 ms.
        #expect(ContinuousClock.now - started >= .milliseconds(300))
    }

    @Test func givesUpOnAStalledAnswer() async throws {
        let imds = try await IMDSStandIn.start()
        defer { imds.stop() }
        imds.with { $0.answer = .stall }
        let client = try Self.client(port: imds.port, attempts: 1, timeout: .milliseconds(300))
        let started = ContinuousClock.now
        await #expect(throws: InstanceCredentialsError(.timedOut, "")) { try await client.credentials() }
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    @Test func refusesAnInvalidConfiguration() {
        var configuration = InstanceMetadataConfiguration()
        configuration.tokenTTLSeconds = 21_601
        #expect(throws: InstanceCredentialsError(.invalidConfiguration, "")) { try configuration.validate() }
    }
}
