import NitroAttestation
import Testing

@testable import EnclaveRuntime

/// The action ledger is bounded by bytes and never forgets an unexpired action to make room: full, it refuses
/// the new action (`full`), and a replay of one it holds is still `replayed` (docs/threat-model.md, "Memory").
@Suite struct ActionLedgerTests {
    static func digest(_ i: Int) -> [UInt8] { SHA.sha256(Array("action \(i)".utf8)) }

    @Test func pastItsBoundTheLedgerRefusesAndStillDetectsReplays() {
        let ledger = ActionLedger(maxBytes: 16 * 1024)
        #expect(ledger.capacity > 10)
        #expect(ledger.capacity * ActionLedger.entryBytes <= ledger.maxBytes)
        let now: UInt64 = 1_000_000
        for i in 0..<ledger.capacity {
            #expect(ledger.consume(Self.digest(i), expiry: now + 60_000 + UInt64(i % 7), now: now) == .fresh)
            #expect(ledger.bytes <= ledger.maxBytes)
        }
        // Full: a new action is refused, by name; every remembered one is still a replay.
        #expect(ledger.consume(Self.digest(-1), expiry: now + 60_000, now: now) == .full)
        for i in stride(from: 0, to: ledger.capacity, by: 5) { #expect(ledger.consume(Self.digest(i), expiry: now + 60_000, now: now + 1) == .replayed) }
        #expect(ledger.count == ledger.capacity)
        #expect(ledger.bytes <= ledger.maxBytes)
    }

    @Test func onlyExpiredActionsMakeRoom() {
        let ledger = ActionLedger(maxBytes: 8 * 1024)
        let now: UInt64 = 1_000_000
        let half = ledger.capacity / 2
        for i in 0..<half { #expect(ledger.consume(Self.digest(i), expiry: now + 1000, now: now) == .fresh) }
        for i in half..<ledger.capacity { #expect(ledger.consume(Self.digest(i), expiry: now + 100_000, now: now) == .fresh) }
        #expect(ledger.consume(Self.digest(-1), expiry: now + 100_000, now: now + 999) == .full)
        // Once the first half expired there is room again, and the unexpired half is still remembered.
        #expect(ledger.consume(Self.digest(-1), expiry: now + 100_000, now: now + 1000) == .fresh)
        #expect(ledger.consume(Self.digest(ledger.capacity - 1), expiry: now + 100_000, now: now + 1000) == .replayed)
        // Superseded places in the expiry order never push the ledger past its bound.
        for round in 0..<20 {
            let t = now + 2000 + UInt64(round) * 2000
            for i in 0..<half { _ = ledger.consume(Self.digest(i), expiry: t + 1000, now: t) }
            #expect(ledger.bytes <= ledger.maxBytes)
        }
    }
}
