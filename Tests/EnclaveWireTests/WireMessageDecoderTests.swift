import CBOR
import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

@testable import EnclaveWire

func frame(_ payload: [UInt8]) -> ByteBuffer {
    var b = ByteBuffer()
    b.writeInteger(UInt32(payload.count))
    b.writeBytes(payload)
    return b
}

func frame(_ message: WireMessage) -> ByteBuffer { frame(CBOREncoder.encode(message.cbor)) }

@Suite struct WireMessageTests {
    static let messages: [WireMessage] = [
        .hello(version: 2, channel: .control, attestation: [0x84, 0x40], proof: .signature(document: [0x84], signature: [UInt8](repeating: 1, count: 96), macKey: nil)),
        .hello(version: 2, channel: .control, attestation: [0x84], proof: .signature(document: [0x84], signature: [UInt8](repeating: 1, count: 96), macKey: [UInt8](repeating: 2, count: 32))),
        .hello(version: 2, channel: .ingress, attestation: nil, proof: .mac(keyID: [UInt8](repeating: 3, count: 32), tag: [UInt8](repeating: 4, count: 32))),
        .hello(version: 2, channel: .ingress, attestation: nil, proof: nil),
        .challenge([UInt8](repeating: 0xC4, count: 32)),
        .heartbeat(sequence: 7, time: 1_700_000_000_000),
        .data([]),
        .data([UInt8](repeating: 0xAB, count: 70_000)),
        .close(code: "shutdown", reason: "host stopping"),
        .open(port: 8443, peer: "203.0.113.7:50312"),
        .open(port: UInt32.max, peer: ""),
        .connect(host: "kms.us-east-1.amazonaws.com", port: 443),
        .connected(address: "198.51.100.1:443"),
        .log(LogRecord(time: 1, level: .warning, message: "ingress pool empty", metadata: ["idle": "0", "port": "8443"])),
        .log(LogRecord(time: 2, level: .critical, message: "")),
        .status(EnclaveStatus(idleTunnels: 32, activeTunnels: 500, uptimeMilliseconds: 86_400_000)),
    ]

    @Test(arguments: messages)
    func messagesRoundTrip(message: WireMessage) throws {
        #expect(try WireMessage(payload: CBOREncoder.encode(message.cbor)) == message)
    }

    static let refused: [(CBOR, WireError.Code)] = [
        // hello: version 1 (no proof) is no longer spoken; a proof must be [document, 96-byte signature].
        ([.unsigned(0), 1, "control", nil, nil], .unsupportedVersion),
        ([.unsigned(0), 1, "control", nil], .malformedMessage),
        ([.unsigned(0), 2, "telnet", nil, nil], .unknownChannel),
        ([.unsigned(0), 2, "control", nil], .malformedMessage),
        ([.unsigned(0), 2, "control", "attestation", nil], .malformedMessage),
        ([.unsigned(0), 2, "queue", nil, "proof"], .malformedMessage),
        ([.unsigned(0), 2, "queue", nil, []], .malformedMessage),
        ([.unsigned(0), 2, "queue", nil, [0, .bytes([1])]], .malformedMessage),
        ([.unsigned(0), 2, "queue", nil, [0, .bytes([1]), .bytes([UInt8](repeating: 0, count: 95))]], .malformedMessage),
        ([.unsigned(0), 2, "queue", nil, [0, .bytes([]), .bytes([UInt8](repeating: 0, count: 96))]], .malformedMessage),
        ([.unsigned(0), 2, "queue", nil, [0, .bytes([1]), .bytes([UInt8](repeating: 0, count: 96)), .bytes([1])]], .malformedMessage),
        ([.unsigned(0), 2, "queue", nil, [0, .bytes([1]), .bytes([UInt8](repeating: 0, count: 96)), .bytes([UInt8](repeating: 0, count: 32)), 1]], .malformedMessage),
        ([.unsigned(0), 2, "queue", nil, [0, .text("d"), .bytes([UInt8](repeating: 0, count: 96))]], .malformedMessage),
        ([.unsigned(0), 2, "queue", nil, [1, .bytes([UInt8](repeating: 0, count: 32))]], .malformedMessage),
        ([.unsigned(0), 2, "queue", nil, [1, .bytes([UInt8](repeating: 0, count: 31)), .bytes([UInt8](repeating: 0, count: 32))]], .malformedMessage),
        ([.unsigned(0), 2, "queue", nil, [1, .bytes([UInt8](repeating: 0, count: 32)), .bytes([UInt8](repeating: 0, count: 96))]], .malformedMessage),
        ([.unsigned(0), 2, "queue", nil, [2, .bytes([UInt8](repeating: 0, count: 32)), .bytes([UInt8](repeating: 0, count: 32))]], .malformedMessage),
        // challenge: exactly 32 bytes.
        ([.unsigned(9), .bytes([UInt8](repeating: 0, count: 31))], .malformedMessage),
        ([.unsigned(9), .bytes([UInt8](repeating: 0, count: 33))], .malformedMessage),
        ([.unsigned(9), .bytes([UInt8](repeating: 0, count: 32)), 1], .malformedMessage),
        ([.unsigned(9), "challenge"], .malformedMessage),
        ([.unsigned(1), 1], .malformedMessage),
        ([.unsigned(1), 1, -1], .malformedMessage),
        ([.unsigned(2), "text"], .malformedMessage),
        ([.unsigned(10), 1], .malformedMessage),
        (.map(["type": 0]), .malformedMessage),
        ([], .malformedMessage),
        ([[.unsigned(2)], .bytes([])], .malformedMessage),
        // open: a port past 32 bits, a peer that is not text, a missing field.
        ([.unsigned(4), .unsigned(1 << 32), "peer"], .malformedMessage),
        ([.unsigned(4), 8443, .bytes([1])], .malformedMessage),
        ([.unsigned(4), 8443], .malformedMessage),
        // connect: port 0, a port past 16 bits, a host that is not text.
        ([.unsigned(5), "example.com", 0], .malformedMessage),
        ([.unsigned(5), "example.com", 65536], .malformedMessage),
        ([.unsigned(5), 1, 443], .malformedMessage),
        ([.unsigned(6)], .malformedMessage),
        // log: an unknown level, metadata that is not text to text, too many entries, not a map.
        ([.unsigned(7), 1, "loud", "m", .map([:])], .malformedMessage),
        ([.unsigned(7), 1, "info", "m", .map(["k": 1])], .malformedMessage),
        // 33 metadata entries pass the message's item bound of the CBOR layer, which refuses them first.
        ([.unsigned(7), 1, "info", "m", .map(CBORMap((0..<33).map { (.text("k\($0)"), .text("v")) }))], .malformedCBOR),
        ([.unsigned(7), 1, "info", "m", ["k", "v"]], .malformedMessage),
        ([.unsigned(8), 1, 2], .malformedMessage),
        ([.unsigned(8), 1, 2, -3], .malformedMessage),
    ]

    @Test func onlyOpenAndConnectedStartARawStream() {
        for message in Self.messages {
            switch message {
            case .open, .connected: #expect(message.startsRawStream)
            default: #expect(!message.startsRawStream)
            }
        }
    }

    @Test(arguments: refused)
    func malformedMessagesAreRefusedWithTheirCode(item: CBOR, code: WireError.Code) {
        #expect(throws: WireError(code)) { try WireMessage(payload: CBOREncoder.encode(item)) }
    }

    @Test func notCBORIsMalformedCBOR() {
        #expect(throws: WireError(.malformedCBOR)) { try WireMessage(payload: [0x1C]) }
        #expect(throws: WireError(.malformedCBOR)) { try WireMessage(payload: [0x82, 0x02]) }
        // Duplicated keys and deep nesting are refused by the CBOR layer's bounds.
        #expect(throws: WireError(.malformedCBOR)) { try WireMessage(payload: [0xA2, 0x01, 0x01, 0x01, 0x01]) }
        #expect(throws: WireError(.malformedCBOR)) { try WireMessage(payload: [UInt8](repeating: 0x81, count: 10) + [0x00]) }
    }
}

@Suite struct WireMessageDecoderTests {
    /// Drip-fed one byte at a time, and in every other split the verifier tries, the same messages come out.
    @Test func decoderSurvivesEverySplit() throws {
        // Small messages only: the verifier drip-feeds byte by byte, and a 70 KB frame adds seconds, not coverage.
        let small = WireMessageTests.messages.filter { CBOREncoder.encode($0.cbor).count < 1024 }
        let inputs: [(ByteBuffer, [WireMessage])] = small.map { (frame($0), [$0]) }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: inputs) { WireMessageDecoder() }
    }

    @Test func severalFramesInOneReadAllArrive() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(WireMessageDecoder()))
        var all = frame(.heartbeat(sequence: 1, time: 2))
        var second = frame(.data([1, 2, 3]))
        all.writeBuffer(&second)
        try channel.writeInbound(all)
        #expect(try channel.readInbound(as: WireMessage.self) == .heartbeat(sequence: 1, time: 2))
        #expect(try channel.readInbound(as: WireMessage.self) == .data([1, 2, 3]))
        #expect(try channel.finish().isClean)
    }

    @Test func oversizedFrameIsRefusedFromItsHeaderAlone() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(WireMessageDecoder(maxFrameSize: 1024)))
        var header = ByteBuffer()
        header.writeInteger(UInt32(1025))
        #expect(throws: WireError(.frameTooLarge)) { try channel.writeInbound(header) }
        _ = try? channel.finish()
    }

    @Test func hugeDeclaredLengthIsRefusedWithoutBuffering() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(WireMessageDecoder()))
        var header = ByteBuffer()
        header.writeInteger(UInt32.max)
        #expect(throws: WireError(.frameTooLarge)) { try channel.writeInbound(header) }
        _ = try? channel.finish()
    }

    @Test func emptyFrameIsRefused() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(WireMessageDecoder()))
        #expect(throws: WireError(.emptyFrame)) { try channel.writeInbound(frame([])) }
        _ = try? channel.finish()
    }

    @Test func malformedPayloadIsRefused() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(WireMessageDecoder()))
        #expect(throws: WireError(.malformedCBOR)) { try channel.writeInbound(frame([0xFF])) }
        _ = try? channel.finish()
    }

    @Test func connectionEndingInsideAFrameIsReported() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(WireMessageDecoder()))
        var partial = frame(.data([1, 2, 3, 4]))
        partial.moveWriterIndex(to: partial.writerIndex - 2)
        try channel.writeInbound(partial)
        #expect(throws: WireError(.truncatedFrame)) { try channel.finish() }
    }

    @Test func encoderWritesWhatTheDecoderReads() throws {
        let channel = EmbeddedChannel(handlers: [ByteToMessageHandler(WireMessageDecoder()), MessageToByteHandler(WireMessageEncoder())])
        for message in WireMessageTests.messages {
            try channel.writeOutbound(message)
            let bytes = try #require(try channel.readOutbound(as: ByteBuffer.self))
            #expect(bytes == frame(message))
            try channel.writeInbound(bytes)
            #expect(try channel.readInbound(as: WireMessage.self) == message)
        }
        #expect(try channel.finish().isClean)
    }
}
