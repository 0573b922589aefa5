import Hummingbird
import NIOCore

/// The API's request context: Hummingbird's basics and the peer's address, which the attestation rate counts
/// callers without a token by.
struct APIRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    /// The address of the connection's other end (a proxy's, behind one).
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}
