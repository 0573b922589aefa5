import Testing

@testable import CloisterClient

/// The search for request ids run twice: sorted runs spilled to a file and merged find what one run in memory finds.
@Suite struct RepeatedActionFinderTests {
    /// 1000 actions of tenant acme, `r0`...`r999`, except: `r10` again at 700, `r500` again at 600 and 900, and
    /// `r10` of tenant globex at 800 (another tenant's id: not a repeat).
    static func fill(_ finder: RepeatedActionFinder) throws {
        for i in 0..<1000 {
            let (tenant, id): (String, String) =
                switch i {
                case 700: ("acme", "r10")
                case 600, 900: ("acme", "r500")
                case 800: ("globex", "r10")
                default: ("acme", "r\(i)")
                }
            try finder.add(tenant: tenant, requestID: id, index: Int64(i))
        }
    }

    @Test(arguments: [2, 7, 64, 999, 1000, 1 << 18])
    func spilledRunsFindWhatOneRunFinds(_ runLength: Int) throws {
        let finder = RepeatedActionFinder(runLength: runLength)
        try Self.fill(finder)
        #expect(finder.count == 1000)
        let found = try finder.repeats()
        #expect(found.first == RepeatedActionFinder.Repeat(first: 500, second: 600))
        #expect(found.total == 2)
    }

    @Test func distinctIdsHaveNoRepeat() throws {
        let finder = RepeatedActionFinder(runLength: 16)
        for i in 0..<100 { try finder.add(tenant: "acme", requestID: "r\(i)", index: Int64(i)) }
        let found = try finder.repeats()
        #expect(found.first == nil && found.total == 0)
        let empty = try RepeatedActionFinder().repeats()
        #expect(empty.first == nil && empty.total == 0)
    }
}
