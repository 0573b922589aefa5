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
        #expect(s.start() == [change, other, otherTenant])
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
        // Ready jobs start in admission order.
        #expect(order == Array(0..<20))
        #expect(s.unfinished == 0)
    }

    @Test func theOnePullScheduleIsTheSchedulersRules() {
        // A pull as one whole: the same waits as admitting its jobs with nothing finished.
        let jobs: [(tenant: String, scope: JobScope)] = [("a", .keyChange("x")), ("a", .keyUse("x")), ("a", .tenant), ("b", .keyUse("x"))]
        #expect(PullSchedule.dependencies(jobs) == [[], [0], [0, 1], []])
    }
}
