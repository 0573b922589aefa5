import NIOCore
import NIOPosix

#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension DNSResolver {
    /// Makes a resolver from the machine's configuration: the nameservers of `resolvConfPath` (127.0.0.1 when it
    /// names none or cannot be read, as resolv.conf(5) says) and the entries of `hostsPath` (none when it cannot
    /// be read). Both files are read once, here, on NIO's thread pool; build a new resolver to see later edits.
    public static func system(
        resolvConfPath: String = "/etc/resolv.conf",
        hostsPath: String = "/etc/hosts",
        timeout: TimeAmount = DNSResolver.defaultTimeout,
        attempts: Int = DNSResolver.defaultAttempts,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> DNSResolver {
        let (resolvBytes, hostsBytes) = try await NIOThreadPool.singleton.runIfActive {
            (
                readFile(resolvConfPath, limit: ResolvConf.maxFileLength + 1),
                readFile(hostsPath, limit: HostsFile.maxFileLength + 1)
            )
        }
        var configured = ResolvConf(parsing: resolvBytes ?? []).nameservers
        if configured.isEmpty { configured = [ResolvConf.defaultNameserver] }
        return DNSResolver(
            nameservers: try configured.map { try $0.socketAddress(port: port) },
            timeout: timeout,
            attempts: attempts,
            eventLoopGroup: eventLoopGroup,
            hostsFile: HostsFile(parsing: hostsBytes ?? [])
        )
    }

    /// Up to `limit` bytes of a file, or nil when it cannot be opened or read. Blocking; run it off the event loops.
    static func readFile(_ path: String, limit: Int) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { _ = close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while bytes.count < limit {
            let wanted = min(chunk.count, limit - bytes.count)
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, wanted) }
            if count < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return bytes
    }
}
