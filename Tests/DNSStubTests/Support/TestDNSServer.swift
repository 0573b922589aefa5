import NIOCore
import NIOPosix
import Synchronization

@testable import DNSStub

/// A small DNS server on 127.0.0.1 for tests. It answers the Nth A query with 10.0.0.N and the Nth AAAA query with
/// fd00::N, TTL 1, so every answer differs from the one before; or it misbehaves as told.
final class TestDNSServer: Sendable {
    enum Behavior: Sendable {
        /// Answer at once.
        case answer
        /// Read queries and never answer.
        case silent
        /// Answer SERVFAIL.
        case serverFailure
        /// First send a reply with the wrong id and a forged address, then the real answer 50 ms later.
        case wrongIDFirst
        /// First send a reply with the right id and a forged address from another socket (another port), then the
        /// real answer 50 ms later.
        case otherSourceFirst
    }

    /// Counts queries per type; shared by the server and its handler.
    final class QueryCounter: Sendable {
        private let counts = Mutex<[DNSRecordType: Int]>([:])

        /// Counts one more query of `type` and returns its number, from 1.
        func next(_ type: DNSRecordType) -> Int {
            counts.withLock { counts in
                counts[type, default: 0] += 1
                return counts[type]!
            }
        }

        var total: Int { counts.withLock { $0.values.reduce(0, +) } }
    }

    /// The address forged replies carry.
    static let forged = DNSAddress.v4([6, 6, 6, 6])

    let address: SocketAddress
    let counter: QueryCounter
    private let channel: any Channel
    private let spoofer: any Channel

    private init(channel: any Channel, spoofer: any Channel, counter: QueryCounter) {
        self.channel = channel
        self.spoofer = spoofer
        self.address = channel.localAddress!
        self.counter = counter
    }

    static func start(_ behavior: Behavior, group: any EventLoopGroup) async throws -> TestDNSServer {
        let spoofer = try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let counter = QueryCounter()
        let channel = try await DatagramBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        Handler(behavior: behavior, spoofer: spoofer, counter: counter)
                    )
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return TestDNSServer(channel: channel, spoofer: spoofer, counter: counter)
    }

    func stop() async {
        try? await channel.close().get()
        try? await spoofer.close().get()
    }

    /// A response to `query`: its question copied, and one record of the asked type with TTL 1 when `address`
    /// is given.
    static func response(to query: [UInt8], id: UInt16? = nil, address: DNSAddress?, rcode: UInt8 = 0) -> [UInt8]? {
        guard let header = try? DNSMessage.decodeHeader(query),
            let message = try? DNSMessage.decodeSections(query, header: header),
            let question = message.questions.first
        else { return nil }
        let replyID = id ?? header.id
        var bytes: [UInt8] = [UInt8(replyID >> 8), UInt8(replyID & 0xFF), 0x81, 0x80 | rcode, 0, 1, 0, 0, 0, 0, 0, 0]
        bytes += query[12...]
        if let address {
            bytes[7] = 1
            let data = address.bytes
            bytes += [0xC0, 0x0C, UInt8(question.type >> 8), UInt8(question.type & 0xFF), 0, 1, 0, 0, 0, 1]
            bytes += [0, UInt8(data.count)] + data
        }
        return bytes
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>

        let behavior: Behavior
        let spoofer: any Channel
        let counter: QueryCounter

        init(behavior: Behavior, spoofer: any Channel, counter: QueryCounter) {
            self.behavior = behavior
            self.spoofer = spoofer
            self.counter = counter
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            let query = Array(envelope.data.readableBytesView)
            guard query.count > 4, let header = try? DNSMessage.decodeHeader(query) else { return }
            let type: DNSRecordType = query[query.count - 3] == 28 ? .aaaa : .a
            let number = counter.next(type)
            let real: DNSAddress =
                type == .a
                ? .v4([10, 0, 0, UInt8(truncatingIfNeeded: number)])
                : .v6([0xFD] + [UInt8](repeating: 0, count: 14) + [UInt8(truncatingIfNeeded: number)])
            let client = envelope.remoteAddress
            let channel = context.channel
            @Sendable func send(_ bytes: [UInt8]?, on channel: any Channel) {
                guard let bytes else { return }
                channel.writeAndFlush(
                    AddressedEnvelope(remoteAddress: client, data: ByteBuffer(bytes: bytes)),
                    promise: nil
                )
            }
            let forgedOfType: DNSAddress = type == .a ? TestDNSServer.forged : .v6([UInt8](repeating: 6, count: 16))
            switch behavior {
            case .answer:
                send(TestDNSServer.response(to: query, address: real), on: channel)
            case .silent:
                break
            case .serverFailure:
                send(TestDNSServer.response(to: query, address: nil, rcode: 2), on: channel)
            case .wrongIDFirst, .otherSourceFirst:
                let isWrongID = if case .wrongIDFirst = behavior { true } else { false }
                let forged = TestDNSServer.response(
                    to: query,
                    id: isWrongID ? header.id ^ 0x5555 : header.id,
                    address: forgedOfType
                )
                send(forged, on: isWrongID ? channel : spoofer)
                let genuine = TestDNSServer.response(to: query, address: real)
                channel.eventLoop.scheduleTask(in: .milliseconds(50)) { send(genuine, on: channel) }
            }
        }
    }
}
