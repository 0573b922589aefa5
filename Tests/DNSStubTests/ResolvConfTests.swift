import Testing

@testable import DNSStub

@Suite struct ResolvConfTests {
    @Test func readsUpToThreeNameserversInOrder() {
        let conf = ResolvConf(
            parsing: """
                # generated
                ; also a comment
                search example.internal
                options timeout:1 attempts:2
                nameserver 10.0.0.2
                nameserver\t2001:db8::53   # trailing comment
                #nameserver 10.9.9.9
                nameserver fe80::1%eth0
                nameserver not-an-address
                nameserver 10.0.0.3
                nameserver 10.0.0.4
                nameserver 10.0.0.5
                """
        )
        #expect(conf.nameservers == [.v4([10, 0, 0, 2]), DNSAddress(literal: "2001:db8::53")!, .v4([10, 0, 0, 3])])
    }

    @Test func givesNoNameserverForAnEmptyOrOddFile() {
        #expect(ResolvConf(parsing: "").nameservers.isEmpty)
        #expect(ResolvConf(parsing: "nameserver\nnameservers 1.2.3.4\n").nameservers.isEmpty)
        let long = "nameserver 10.0.0.1 " + String(repeating: " ", count: ResolvConf.maxLineLength)
        #expect(ResolvConf(parsing: long).nameservers.isEmpty)
    }
}
