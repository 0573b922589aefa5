import BridgeHost
import NIOCore
import Synchronization
import VsockBridge

/// Emulation: sends the enclave's egress for the KMS endpoint (`kms.REGION.amazonaws.com:443`, as on Nitro) to the
/// emulated KMS this host runs on loopback, and everything else to the real resolver. The enclave still checks the
/// server's certificate, which only the emulated root issues; the host only chooses where bytes go, as it always can.
public final class EmulatedKMSRoute: EgressResolver {
    public let endpointHost: String
    public let endpointPort: Int
    let fallback: any EgressResolver
    private let port = Mutex<Int?>(nil)

    public init(endpointHost: String, endpointPort: Int, fallback: any EgressResolver) {
        self.endpointHost = endpointHost.lowercased()
        self.endpointPort = endpointPort
        self.fallback = fallback
    }

    /// Called once the emulated KMS listens.
    public func listening(on port: Int) { self.port.withLock { $0 = port } }

    public func addresses(host: String, port requested: Int) async throws -> [SocketAddress] {
        guard host.lowercased() == endpointHost, requested == endpointPort else { return try await fallback.addresses(host: host, port: requested) }
        // At boot the enclave may ask before the server is up: wait for it a little.
        for _ in 0..<250 {
            if let p = port.withLock({ $0 }) { return [try SocketAddress(ipAddress: "127.0.0.1", port: p)] }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw EmulatedKMSUnavailable()
    }

    struct EmulatedKMSUnavailable: Error, CustomStringConvertible {
        var description: String { "the emulated KMS is not listening" }
    }
}
