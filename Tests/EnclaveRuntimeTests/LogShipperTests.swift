import EnclaveWire
import Testing

@testable import EnclaveRuntime

/// Log records wait for the host in a queue bounded by count and by bytes (docs/threat-model.md, "Memory"): large
/// records (an error quoting what the host sent) cannot make it grow past its bound.
@Suite struct LogShipperTests {
    @Test func theQueueForTheHostStaysWithinItsBytesAndSaysWhatItDropped() {
        let shipper = LogShipper()
        let large = String(repeating: "x", count: 20_000)
        for i in 0..<500 {
            shipper.ship(LogRecord(time: UInt64(i), level: .info, message: large, metadata: ["i": "\(i)"]))
            #expect(shipper.queuedBytes <= LogShipper.queueBytesLimit)
        }
        #expect(shipper.queuedBytes > LogShipper.queueBytesLimit / 2)
        // A record larger than the whole queue is dropped alone, not kept, and the queue keeps what it held.
        let held = shipper.queuedBytes
        shipper.ship(LogRecord(time: 0, level: .info, message: String(repeating: "y", count: LogShipper.queueBytesLimit + 1)))
        #expect(shipper.queuedBytes == held)
        // Small records are bounded by count as before.
        for i in 0..<3000 { shipper.ship(LogRecord(time: UInt64(i), level: .info, message: "m")) }
        #expect(shipper.queuedBytes <= LogShipper.queueBytesLimit)
    }
}
