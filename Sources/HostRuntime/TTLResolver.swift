import BridgeHost
import DNSStub
import NIOCore
import Synchronization
import VsockBridge

/// The host's egress resolver: the system's nameservers (and /etc/hosts) asked directly, answers cached for
/// their DNS TTL, so an allowed name that moves is followed once its record expires.
public final class TTLResolver: EgressResolver {
    private let cache = Mutex<ResolutionCache?>(nil)
    private let make: @Sendable () async throws -> any HostResolver

    public init(make: @escaping @Sendable () async throws -> any HostResolver = { try await DNSResolver.system() }) {
        self.make = make
    }

    public func addresses(host: String, port: Int) async throws -> [SocketAddress] {
        let cache: ResolutionCache
        if let c = self.cache.withLock({ $0 }) {
            cache = c
        } else {
            let made = ResolutionCache(resolver: try await make())
            cache = self.cache.withLock { existing in
                if let existing { return existing }
                existing = made
                return made
            }
        }
        return try await cache.addresses(for: host).map { try $0.socketAddress(port: port) }
    }
}
