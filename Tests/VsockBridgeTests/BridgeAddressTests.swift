import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import VsockBridge

@Suite struct BridgeAddressTests {
    static let valid: [(String, BridgeAddress)] = [
        ("vsock://3:7050", .vsock(cid: 3, port: 7050)),
        ("vsock://any:5000", .vsock(cid: UInt32.max, port: 5000)),
        ("vsock://4294967295:1", .vsock(cid: UInt32.max, port: 1)),
        ("vsock://16:4294967294", .vsock(cid: 16, port: 4_294_967_294)),
        ("tcp://127.0.0.1:7050", .tcp(host: "127.0.0.1", port: 7050)),
        ("tcp://localhost:1", .tcp(host: "localhost", port: 1)),
        ("tcp://[::1]:65535", .tcp(host: "::1", port: 65535)),
        ("tcp://enclave-host.internal:8443", .tcp(host: "enclave-host.internal", port: 8443)),
    ]

    @Test(arguments: valid)
    func parsesAndPrintsBack(text: String, address: BridgeAddress) throws {
        #expect(try BridgeAddress(text) == address)
        #expect(try BridgeAddress(address.description) == address)
    }

    @Test(arguments: [
        "", "3:7050", "http://127.0.0.1:80", "vsock://3", "vsock://3:7050:1", "vsock://-1:5", "vsock://3:0",
        "vsock://3:4294967295", "vsock://4294967296:5", "vsock://03:5", "vsock://3:+5", "vsock://three:5",
        "tcp://127.0.0.1", "tcp://:80", "tcp://127.0.0.1:0", "tcp://127.0.0.1:65536", "tcp://host name:80",
        "tcp://[::1:80", "tcp://[]:80", "tcp://[zz]:80", "tcp://h:99999999999999999999999",
        "tcp://" + String(repeating: "a", count: 400) + ":80",
    ])
    func refusesMalformedAddresses(text: String) {
        #expect(throws: BridgeAddress.ParseError.self) { try BridgeAddress(text) }
    }
}

@Suite struct VsockListenerTests {
    static var hasVsock: Bool { FileManager.default.fileExists(atPath: "/dev/vsock") }
    static var hasVsockLoopback: Bool {
        let modules = (try? String(contentsOfFile: "/proc/modules", encoding: .utf8)) ?? ""
        return modules.split(separator: "\n").contains { $0.hasPrefix("vsock_loopback ") }
    }

    /// A real AF_VSOCK listener binds on CID any (the host's side of the bridge).
    @Test func aVsockListenerBinds() async throws {
        guard Self.hasVsock else {
            print("SKIP: /dev/vsock is absent; the AF_VSOCK bind test did not run")
            return
        }
        let group = MultiThreadedEventLoopGroup.singleton
        let port = UInt32.random(in: 20_000...60_000)
        let channel = try await BridgeAddress.vsock(cid: UInt32.max, port: port).bind(ServerBootstrap(group: group)).get()
        // A vsock channel's localAddress is nil; the local context id comes from an ioctl on the socket.
        let cid = try await channel.getOption(ChannelOptions.localVsockContextID).get()
        #expect(cid.rawValue != 0)
        try await channel.close()
    }

    /// A full vsock round trip needs the vsock_loopback kernel module.
    @Test func aVsockRoundTrip() async throws {
        guard Self.hasVsockLoopback else {
            print("SKIP: the vsock_loopback kernel module is not loaded; the vsock round-trip test did not run")
            return
        }
        let group = MultiThreadedEventLoopGroup.singleton
        let port = UInt32.random(in: 20_000...60_000)
        let server = try await BridgeAddress.vsock(cid: UInt32.max, port: port).bind(ServerBootstrap(group: group)).get()
        let client = try await BridgeAddress.vsock(cid: 1, port: port).connect(ClientBootstrap(group: group)).get()
        try await client.close()
        try await server.close()
    }
}
