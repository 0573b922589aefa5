import Testing

@testable import DNSStub

@Suite struct HostsFileTests {
    static let sample = """
        # The local machine
        127.0.0.1\tlocalhost localhost.localdomain
        ::1 localhost ip6-localhost # loopback, v6
        10.1.2.3   db.internal  db
        10.1.2.4 DB.internal
          # an indented comment
        not-an-address name.internal
        10.1.2.5
        192.0.2.9 bad_name! good.internal
        fe80::1%eth0 zoned.internal
        10.1.2.6 trailing.internal.\r
        """

    @Test func findsNamesIgnoringCaseAndTheTrailingDot() {
        let hosts = HostsFile(parsing: Self.sample)
        #expect(hosts.addresses(for: "localhost") == [.v4([127, 0, 0, 1]), DNSAddress(literal: "::1")!])
        #expect(hosts.addresses(for: "LOCALHOST.") == hosts.addresses(for: "localhost"))
        #expect(hosts.addresses(for: "db.internal") == [.v4([10, 1, 2, 3]), .v4([10, 1, 2, 4])])
        #expect(hosts.addresses(for: "db") == [.v4([10, 1, 2, 3])])
        #expect(hosts.addresses(for: "good.internal") == [.v4([192, 0, 2, 9])])
        #expect(hosts.addresses(for: "trailing.internal") == [.v4([10, 1, 2, 6])])
    }

    @Test func skipsWhatItCannotReadStrictly() {
        let hosts = HostsFile(parsing: Self.sample)
        #expect(hosts.addresses(for: "name.internal").isEmpty)
        #expect(hosts.addresses(for: "zoned.internal").isEmpty)
        #expect(hosts.addresses(for: "bad_name!").isEmpty)
        #expect(hosts.addresses(for: "loopback").isEmpty)
        #expect(hosts.addresses(for: "an").isEmpty)
        #expect(HostsFile().isEmpty)
        #expect(HostsFile(parsing: "# nothing\n\n").isEmpty)
    }

    @Test func skipsOverlongLinesAndBytesPastTheLimit() {
        let long = "10.0.0.1 long.internal " + String(repeating: "x", count: HostsFile.maxLineLength) + "\n"
        #expect(HostsFile(parsing: long + "10.0.0.2 short.internal\n").addresses(for: "long.internal").isEmpty)
        #expect(HostsFile(parsing: long + "10.0.0.2 short.internal\n").addresses(for: "short.internal").count == 1)
        // A line cut by the file limit is dropped, not read as a shorter line.
        let filler = String(repeating: "# filler line\n", count: HostsFile.maxFileLength / 14)
        let cut = filler + "10.0.0.3 cut.internal.example\n"
        #expect(cut.utf8.count > HostsFile.maxFileLength)
        let hosts = HostsFile(parsing: cut)
        #expect(hosts.addresses(for: "cut.internal.example").isEmpty)
        #expect(hosts.addresses(for: "cut.internal").isEmpty)
        #expect(hosts.addresses(for: "cut").isEmpty)
    }
}
