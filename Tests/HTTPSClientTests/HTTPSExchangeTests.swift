#if canImport(Glibc)
import Glibc
#endif
import CloisterTestSupport
import Foundation
import HTTPSClient
import NIOCore
import NIOSSL
import Testing

@Suite struct HTTPSExchangeTests {
    static let request = HTTPSRequest(
        method: "POST",
        path: "/",
        headers: [("Content-Type", "application/json")],
        body: Array("{}".utf8)
    )

    /// Runs `body` with a CA, a server certificate it issued for `subjectAltName`, and a server using it.
    func withServer(
        subjectAltName: String = "DNS:localhost,IP:127.0.0.1",
        behaviour: TLSTestServer.Behaviour,
        tweak: (inout TLSConfiguration) -> Void = { _ in },
        _ body: (TestPKI, TLSTestServer) async throws -> Void
    ) async throws {
        let pki = try await TestPKI.make(subjectAltName: subjectAltName)
        defer { pki.remove() }
        var configuration = try pki.serverConfiguration()
        tweak(&configuration)
        let server = try await TLSTestServer(configuration: configuration, behaviour: behaviour)
        do {
            try await body(pki, server)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    func exchange(
        _ server: TLSTestServer,
        roots: [NIOSSLCertificate],
        serverName: String = "localhost",
        maxResponseBytes: Int = 64 * 1024,
        timeout: TimeAmount = .seconds(10)
    ) async throws(HTTPSClientError) -> HTTPSResponse {
        let channel = try await HTTPSExchange.connectTCP(host: "127.0.0.1", port: server.port)
        return try await HTTPSExchange.perform(
            over: channel,
            serverName: serverName,
            trustRoots: roots,
            request: Self.request,
            maxResponseBytes: maxResponseBytes,
            timeout: timeout
        )
    }

    @Test func aServerTheRootsVouchForIsAnswered() async throws {
        try await withServer(behaviour: .respond(bytes: 1000)) { pki, server in
            let response = try await exchange(server, roots: try pki.roots())
            #expect(response.status == 200)
            #expect(response.body == Array(repeating: UInt8(ascii: "x"), count: 1000))
            #expect(response.headers.contains { $0.name == "X-Seen" && $0.value == "POST / 2" })
            #expect(server.requests == ["POST / 2"])
        }
    }

    @Test func aCertificateFromAnotherCAIsRefused() async throws {
        let other = try await TestPKI.make(caName: "Somebody Else", subjectAltName: "DNS:localhost")
        defer { other.remove() }
        try await withServer(behaviour: .respond(bytes: 10)) { _, server in
            let error = await #expect(throws: HTTPSClientError.self) {
                try await exchange(server, roots: try other.roots())
            }
            #expect(error?.code == .untrustedCertificate)
            #expect(server.requests.isEmpty)
        }
    }

    @Test func noRootsTrustNothing() async throws {
        try await withServer(behaviour: .respond(bytes: 10)) { _, server in
            let error = await #expect(throws: HTTPSClientError.self) { try await exchange(server, roots: []) }
            #expect(error?.code == .untrustedCertificate)
        }
    }

    @Test func aCertificateForAnotherNameIsRefusedBeforeTheRequestIsSent() async throws {
        try await withServer(behaviour: .respond(bytes: 10)) { pki, server in
            let error = await #expect(throws: HTTPSClientError.self) {
                try await exchange(server, roots: try pki.roots(), serverName: "kms.eu-west-1.amazonaws.com")
            }
            #expect(error?.code == .hostnameMismatch)
            #expect(server.requests.isEmpty, "nothing is sent to a server that is not the one named")
        }
    }

    /// The peer of the enclave's channel is its bridge, not the destination: an IP entry that happens to match the
    /// peer's address (as NIOSSL's own check would accept) must not stand for the name.
    @Test func anIPEntryMatchingThePeerDoesNotStandForTheName() async throws {
        try await withServer(subjectAltName: "IP:127.0.0.1", behaviour: .respond(bytes: 10)) { pki, server in
            let error = await #expect(throws: HTTPSClientError.self) {
                try await exchange(server, roots: try pki.roots())
            }
            #expect(error?.code == .hostnameMismatch)
        }
    }

    @Test func anIPAddressIsNotAServerName() async throws {
        try await withServer(behaviour: .respond(bytes: 10)) { pki, server in
            let error = await #expect(throws: HTTPSClientError.self) {
                try await exchange(server, roots: try pki.roots(), serverName: "127.0.0.1")
            }
            #expect(error?.code == .hostnameMismatch)
        }
    }

    @Test func aWildcardMatchesOneWholeLabelOnly() async throws {
        try await withServer(subjectAltName: "DNS:*.kms.test", behaviour: .respond(bytes: 3)) { pki, server in
            let matched = try await exchange(server, roots: try pki.roots(), serverName: "eu.kms.test")
            #expect(matched.status == 200)
            let error = await #expect(throws: HTTPSClientError.self) {
                try await exchange(server, roots: try pki.roots(), serverName: "a.eu.kms.test")
            }
            #expect(error?.code == .hostnameMismatch)
        }
    }

    @Test func aResponseOverTheBoundIsRefused() async throws {
        try await withServer(behaviour: .respond(bytes: 5000)) { pki, server in
            let error = await #expect(throws: HTTPSClientError.self) {
                try await exchange(server, roots: try pki.roots(), maxResponseBytes: 4096)
            }
            #expect(error?.code == .responseTooLarge)
            // The bound is inclusive.
            let atTheBound = try await exchange(server, roots: try pki.roots(), maxResponseBytes: 5000)
            #expect(atTheBound.body.count == 5000)
        }
    }

    @Test func aServerThatNeverAnswersTimesOut() async throws {
        try await withServer(behaviour: .silent) { pki, server in
            let start = ContinuousClock.now
            let error = await #expect(throws: HTTPSClientError.self) {
                try await exchange(server, roots: try pki.roots(), timeout: .seconds(1))
            }
            #expect(error?.code == .timeout)
            // Generous: the machine may be loaded; what matters is that the wait ends without an answer.
            #expect(ContinuousClock.now - start < .seconds(30))
            #expect(server.requests == ["POST / 2"])
        }
    }

    @Test func aConnectionClosedBeforeTheResponseIsClosed() async throws {
        try await withServer(behaviour: .close) { pki, server in
            let error = await #expect(throws: HTTPSClientError.self) {
                try await exchange(server, roots: try pki.roots())
            }
            #expect(error?.code == .closed)
        }
    }

    @Test func tlsBelow12IsRefused() async throws {
        try await withServer(behaviour: .respond(bytes: 1), tweak: { $0.maximumTLSVersion = .tlsv11 }) { pki, server in
            let error = await #expect(throws: HTTPSClientError.self) {
                try await exchange(server, roots: try pki.roots())
            }
            #expect(error?.code == .handshakeFailed)
        }
    }

    @Test func nothingListeningIsConnectFailed() async throws {
        // A port held by a socket that is bound but not listening: refused, and no other test can take it meanwhile.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        try #require(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let error = await #expect(throws: HTTPSClientError.self) {
            try await HTTPSExchange.connectTCP(host: "127.0.0.1", port: port, timeout: .seconds(2))
        }
        #expect(error?.code == .connectFailed)
    }
}
