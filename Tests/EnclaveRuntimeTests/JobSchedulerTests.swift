import Testing

@testable import EnclaveRuntime

/// The queue worker's order across pulls: per key, per tenant, and the bound on jobs running at once.
@Suite struct JobSchedulerTests {
    @Test func aKeyRunsItsJobsInThePulledOrderAndOtherJobsBesideThem() {
        var s = JobScheduler(maxRunning: 16)
        let change = s.admit(tenant: "a", scope: .keyChange("k")).id
        let use1 = s.admit(tenant: "a", scope: .keyUse("k")).id
        let use2 = s.admit(tenant: "a", scope: .keyUse("k")).id
        let change2 = s.admit(tenant: "a", scope: .keyChange("k")).id
        let other = s.admit(tenant: "a", scope: .keyChange("other")).id
        let otherTenant = s.admit(tenant: "b", scope: .keyChange("k")).id
        // Ready jobs start tenants in turn: a's first, then b's, then a's next.
        #expect(s.start() == [change, otherTenant, other])
        s.finish(other)
        s.finish(otherTenant)
        #expect(s.start().isEmpty, "the uses of k wait for its change")
        s.finish(change)
        // Uses run together, the next change after both.
        #expect(s.start() == [use1, use2])
        s.finish(use2)
        #expect(s.start().isEmpty)
        s.finish(use1)
        #expect(s.start() == [change2])
        s.finish(change2)
        #expect(s.unfinished == 0 && s.running == 0)
    }

    @Test func tenantsStartInTurnSoOneWithManyReadyJobsDelaysAnotherByOne() {
        // 200 of one tenant's jobs pulled before another's 2, with room for 4 at once: in admission order the other
        // tenant's would start after 198 of the first's had finished; in turn, at once.
        var s = JobScheduler(maxRunning: 4)
        let flood = (0..<200).map { _ in s.admit(tenant: "flood", scope: .independent).id }
        let mine = (0..<2).map { i in s.admit(tenant: "mine", scope: .keyUse("k\(i)")).id }
        #expect(s.start() == [flood[0], mine[0], flood[1], mine[1]])
        // With no other tenant ready, a freed slot goes to the next of the flood, in its order.
        s.finish(mine[0])
        s.finish(flood[0])
        #expect(s.start() == [flood[2], flood[3]])
        // A tenant that comes later waits for one more of the flood's (whose turn it was), not for all of them.
        let late = s.admit(tenant: "late", scope: .independent).id
        s.finish(flood[1])
        #expect(s.start() == [flood[4]])
        s.finish(flood[2])
        #expect(s.start() == [late])
    }

    @Test func aLaterPullWaitsOnlyForUnfinishedJobs() {
        var s = JobScheduler(maxRunning: 16)
        let first = s.admit(tenant: "a", scope: .keyChange("k")).id
        #expect(s.start() == [first])
        // Pulled while the first still runs: it waits for it.
        #expect(s.admit(tenant: "a", scope: .keyUse("k")).waitsFor == [first])
        s.finish(first)
        #expect(s.start().count == 1)
        // Pulled after the change finished: a use waits for nothing.
        let late = s.admit(tenant: "a", scope: .keyUse("k"))
        #expect(late.waitsFor.isEmpty)
        #expect(s.start() == [late.id])
    }

    @Test func aTenantJobIsABarrierForItsTenantOnly() {
        var s = JobScheduler(maxRunning: 16)
        let before = s.admit(tenant: "a", scope: .keyUse("x")).id
        let barrier = s.admit(tenant: "a", scope: .tenant)
        let after = s.admit(tenant: "a", scope: .independent)
        let elsewhere = s.admit(tenant: "b", scope: .independent).id
        #expect(barrier.waitsFor == [before])
        #expect(after.waitsFor == [barrier.id])
        #expect(s.start() == [before, elsewhere])
        s.finish(before)
        #expect(s.start() == [barrier.id])
        s.finish(barrier.id)
        #expect(s.start() == [after.id])
    }

    @Test(arguments: [1, 3, 8])
    func noMoreThanMaxRunningRunAtOnce(bound: Int) {
        var s = JobScheduler(maxRunning: bound)
        for _ in 0..<20 { s.admit(tenant: "a", scope: .independent) }
        var started = s.start()
        #expect(started == Array(0..<bound))
        var order = started
        while !started.isEmpty {
            #expect(s.running <= bound)
            s.finish(started.removeFirst())
            let more = s.start()
            #expect(more.count <= 1)
            started += more
            order += more
        }
        // One tenant's ready jobs start in the order they became ready.
        #expect(order == Array(0..<20))
        #expect(s.unfinished == 0)
    }

    @Test func theOnePullScheduleIsTheSchedulersRules() {
        // A pull as one whole: the same waits as admitting its jobs with nothing finished.
        let jobs: [(tenant: String, scope: JobScope)] = [("a", .keyChange("x")), ("a", .keyUse("x")), ("a", .tenant), ("b", .keyUse("x"))]
        #expect(PullSchedule.dependencies(jobs) == [[], [0], [0, 1], []])
    }
}
