import NIOCore

/// A service that runs inside the enclave behind ingress. `serve` is called on the tunnel's event loop the
/// moment a client is paired with it; it adds its handlers to the channel and then passes `rest` (bytes the
/// client already sent) into the pipeline. It may also be called from a child channel's initializer (a plain
/// TCP server of the same workload does that), so it must not ask for a read itself. The tunnel is a plain byte
/// stream: the workload sees exactly what the client wrote, so TLS terminated inside the workload works unchanged.
public protocol Workload: Sendable {
    /// The name a manifest uses for it (`ingress[].workload`).
    var name: String { get }
    func serve(_ channel: Channel, rest: ByteBuffer) throws
}

/// The workloads this build carries, by name.
public enum Workloads {
    public static func named(_ name: String) -> (any Workload)? {
        switch name {
        case EchoHashWorkload.name: EchoHashWorkload()
        default: nil
        }
    }

    public static let names = [EchoHashWorkload.name]
}
