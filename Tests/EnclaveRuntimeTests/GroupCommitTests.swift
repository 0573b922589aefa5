import Testing

@testable import EnclaveRuntime

/// The queue worker's seals: one at a time, each of what finished since the previous one.
@Suite struct GroupCommitTests {
    @Test func eachSealTakesWhatFinishedWhileThePreviousOneWasMade() {
        var g = GroupCommit<Int>(max: 100)
        #expect(g.next() == nil, "nothing finished, nothing to seal")
        g.finished(1)
        #expect(g.next() == [1])
        // Finished while the first seal is made: they wait for it, then go as one group, in the order they finished.
        g.finished(3)
        g.finished(2)
        #expect(g.next() == nil)
        #expect(g.sealing)
        g.done()
        #expect(g.next() == [3, 2])
        g.done()
        #expect(g.next() == nil && !g.sealing)
    }

    @Test func aGroupIsAtMostMax() {
        var g = GroupCommit<Int>(max: 3)
        for i in 0..<7 { g.finished(i) }
        #expect(g.next() == [0, 1, 2])
        g.done()
        #expect(g.next() == [3, 4, 5])
        g.done()
        #expect(g.next() == [6])
        #expect(g.count == 0)
    }
}
