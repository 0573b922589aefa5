import Synchronization
import Testing

@testable import EnclaveRuntime

/// A log head is made with no workload write under way (docs/log.md, "Rollback").
@Suite struct WriteGateTests {
    /// What happened, in order.
    final class Steps: Sendable {
        private let state = Mutex<[String]>([])
        var all: [String] { state.withLock { $0 } }
        func add(_ step: String) { state.withLock { $0.append(step) } }
    }

    @Test func aHeadWaitsForTheWritesUnderWayAndNewWritesWaitForIt() async throws {
        let gate = WriteGate()
        let steps = Steps()
        await gate.enterWrite()
        let head = Task {
            await gate.hold()
            steps.add("held")
        }
        try await Task.sleep(for: .milliseconds(50))
        #expect(steps.all.isEmpty, "the head was made with a write under way")
        steps.add("write done")
        gate.leaveWrite()
        await head.value
        let write = Task {
            await gate.enterWrite()
            steps.add("second write")
            gate.leaveWrite()
        }
        try await Task.sleep(for: .milliseconds(50))
        steps.add("released")
        gate.release()
        await write.value
        #expect(steps.all == ["write done", "held", "released", "second write"])
        // With nothing held, a write goes at once, and a head with no writes under way too.
        await gate.enterWrite()
        gate.leaveWrite()
        await gate.hold()
        gate.release()
    }
}
