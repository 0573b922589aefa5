import Testing

@testable import DNSStub

@Suite struct DNSAddressTests {
    @Test(
        arguments: [
            ("192.0.2.1", [192, 0, 2, 1]), ("0.0.0.0", [0, 0, 0, 0]), ("255.255.255.255", [255, 255, 255, 255]),
            ("10.0.0.10", [10, 0, 0, 10]),
        ] as [(String, [UInt8])]
    )
    func readsIPv4(text: String, bytes: [UInt8]) {
        #expect(DNSAddress(literal: text) == .v4(bytes))
        #expect(DNSAddress(literal: text)?.description == text)
    }

    @Test(
        arguments: [
            ("::", "::", [UInt8](repeating: 0, count: 16)),
            ("::1", "::1", [UInt8](repeating: 0, count: 15) + [1]),
            ("2001:DB8::1", "2001:db8::1", [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [1]),
            (
                "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1",
                [0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]
            ),
            (
                "2001:0db8:0000:0001:0001:0001:0001:0001", "2001:db8:0:1:1:1:1:1",
                [0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]
            ),
            ("::ffff:192.0.2.1", "::ffff:192.0.2.1", [UInt8](repeating: 0, count: 10) + [0xFF, 0xFF, 192, 0, 2, 1]),
            ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0", [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 0]),
            ("fe80::1:2", "fe80::1:2", [0xFE, 0x80] + [UInt8](repeating: 0, count: 10) + [0, 1, 0, 2]),
        ] as [(String, String, [UInt8])]
    )
    func readsIPv6(text: String, canonical: String, bytes: [UInt8]) {
        #expect(DNSAddress(literal: text) == .v6(bytes))
        #expect(DNSAddress(literal: text)?.description == canonical)
        #expect(DNSAddress(literal: canonical) == .v6(bytes))
    }

    @Test(arguments: [
        "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.04", "1.2.3.-4", "1..2.3", "1.2.3.4 ", " 1.2.3.4",
        "a.b.c.d", ":", ":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "12345::", "::g", "fe80::1%eth0",
        "[::1]", "::1.2.3", "1.2.3.4::", "::1.2.3.4:5", "1:2:3:4:5:6:7:8::", ":1::", "1::2:", "example.com",
        String(repeating: "1", count: 46),
    ])
    func refusesWhatIsNotALiteral(text: String) {
        #expect(DNSAddress(literal: text) == nil)
    }

    @Test func makesAddressesFromBytesOfTheRightLengthOnly() throws {
        #expect(DNSAddress(bytes: [1, 2, 3, 4]) == .v4([1, 2, 3, 4]))
        #expect(DNSAddress(bytes: [UInt8](repeating: 1, count: 16))?.bytes.count == 16)
        #expect(DNSAddress(bytes: [1, 2, 3]) == nil)
        #expect(DNSAddress(bytes: []) == nil)
        let socket = try DNSAddress.v4([127, 0, 0, 1]).socketAddress(port: 53)
        #expect(socket.ipAddress == "127.0.0.1" && socket.port == 53)
        #expect(
            DNSAddress(try DNSAddress(literal: "2001:db8::5")!.socketAddress(port: 1))
                == DNSAddress(literal: "2001:db8::5")
        )
    }
}
