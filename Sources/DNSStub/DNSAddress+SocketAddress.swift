import NIOCore

extension DNSAddress {
    /// The NIO socket address of this address and `port`, ready to connect to.
    public func socketAddress(port: Int) throws -> SocketAddress {
        try SocketAddress(packedIPAddress: ByteBuffer(bytes: bytes), port: port)
    }

    /// The IP address of an IPv4 or IPv6 socket address; nil for other families.
    public init?(_ socketAddress: SocketAddress) {
        guard let text = socketAddress.ipAddress else { return nil }
        self.init(literal: text)
    }
}
