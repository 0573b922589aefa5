import Foundation
import NitroAttestation

/// Finds the request ids that ran as more than one signed action in a log of any length, in memory that does not
/// grow with it (an external sort). Each action is a record of 24 bytes: 16 bytes of SHA-256 over its tenant and
/// request id, and its entry's index. Records gather in a run of `runLength` in memory; a full run is sorted and
/// spilled to an unlinked temporary file; at the end the runs are merged, and equal digests meet side by side.
///
/// Memory: one run (6 MiB at the default 2^18 records), plus, at the merge, a read buffer of 16 KiB per spilled
/// run (about 64 bytes per thousand actions: 0.6 MiB for ten million). Disk: 24 bytes per action beyond the first
/// run, freed when the finder goes. Sixteen bytes of digest make a false repeat among 2^32 actions a chance of
/// 2^-64.
final class RepeatedActionFinder {
    /// A request id's first two runs, as entry indexes.
    struct Repeat: Sendable, Hashable {
        var first: Int64
        var second: Int64
    }

    struct Record {
        var high: UInt64
        var low: UInt64
        var index: Int64

        static func < (a: Record, b: Record) -> Bool { (a.high, a.low, a.index) < (b.high, b.low, b.index) }
        func sameRequest(_ other: Record) -> Bool { high == other.high && low == other.low }
    }

    let runLength: Int
    /// Actions added so far.
    private(set) var count: UInt64 = 0
    private var run: [Record] = []
    private var spill: Int32 = -1
    /// Spilled runs: their first record's position in the file and their length, in records.
    private var runs: [(start: Int, count: Int)] = []
    private var spilled = 0
    static let recordBytes = MemoryLayout<Record>.stride
    static let mergeBufferRecords = 16 * 1024 / recordBytes

    init(runLength: Int = 1 << 18) {
        precondition(runLength >= 2)
        self.runLength = runLength
    }

    deinit { if spill >= 0 { close(spill) } }

    /// Records that `tenant`'s request `requestID` ran as a signed action at entry `index`.
    func add(tenant: String, requestID: String, index: Int64) throws(ClientError) {
        var input: [UInt8] = []
        input.reserveCapacity(tenant.utf8.count + 1 + requestID.utf8.count)
        input += tenant.utf8
        input.append(0)
        input += requestID.utf8
        let digest = SHA.sha256(input)
        var high: UInt64 = 0
        var low: UInt64 = 0
        for i in 0..<8 {
            high = high << 8 | UInt64(digest[i])
            low = low << 8 | UInt64(digest[8 + i])
        }
        if run.isEmpty { run.reserveCapacity(runLength) }
        run.append(Record(high: high, low: low, index: index))
        count += 1
        if run.count == runLength { try spillRun() }
    }

    /// The request id whose second run comes first in the log, and how many request ids ran more than once.
    func repeats() throws(ClientError) -> (first: Repeat?, total: Int) {
        var scan = RepeatScan()
        if runs.isEmpty {
            run.sort(by: <)
            for r in run { scan.take(r) }
            return (scan.first, scan.total)
        }
        if !run.isEmpty { try spillRun() }
        var merge = try RunMerge(fd: spill, runs: runs, bufferRecords: Self.mergeBufferRecords)
        while let r = try merge.next() { scan.take(r) }
        return (scan.first, scan.total)
    }

    private func spillRun() throws(ClientError) {
        if spill < 0 { spill = try Self.temporaryFile() }
        run.sort(by: <)
        let written = run.withUnsafeBytes { raw -> Bool in
            var done = 0
            while done < raw.count {
                let n = pwrite(spill, raw.baseAddress! + done, raw.count - done, off_t(spilled * Self.recordBytes + done))
                if n <= 0 { return false }
                done += n
            }
            return true
        }
        guard written else { throw ClientError(.malformedLog, "cannot spill request ids to a temporary file: errno \(errno)") }
        runs.append((spilled, run.count))
        spilled += run.count
        run.removeAll(keepingCapacity: true)
    }

    /// A file in the temporary directory, already unlinked: it goes when it is closed.
    static func temporaryFile() throws(ClientError) -> Int32 {
        let directory = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array((directory + "/cloister-audit-requests.XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw ClientError(.malformedLog, "cannot create a temporary file in \(directory): errno \(errno)") }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        return fd
    }
}

/// Sorted records in, repeats out: the first two indexes of each digest seen more than once.
private struct RepeatScan {
    var previous: RepeatedActionFinder.Record?
    var runOfPrevious = 0
    var first: RepeatedActionFinder.Repeat?
    var total = 0

    mutating func take(_ r: RepeatedActionFinder.Record) {
        if let p = previous, p.sameRequest(r) {
            runOfPrevious += 1
            if runOfPrevious == 2 {
                total += 1
                // Sorted by index within a digest: p is the first run, r the second.
                if first.map({ r.index < $0.second }) ?? true { first = .init(first: p.index, second: r.index) }
            }
            return
        }
        previous = r
        runOfPrevious = 1
    }
}

/// A k-way merge of sorted runs in one file, a small buffer per run, through a binary heap.
private struct RunMerge {
    typealias Record = RepeatedActionFinder.Record

    struct Cursor {
        var next: Int
        var end: Int
        var buffer: [Record] = []
        var position = 0
    }

    let fd: Int32
    let bufferRecords: Int
    var cursors: [Cursor]
    /// Cursor numbers, a min-heap on each cursor's current record.
    var heap: [Int] = []

    init(fd: Int32, runs: [(start: Int, count: Int)], bufferRecords: Int) throws(ClientError) {
        self.fd = fd
        self.bufferRecords = bufferRecords
        cursors = runs.map { Cursor(next: $0.start, end: $0.start + $0.count) }
        for i in cursors.indices where try refill(i) { push(i) }
    }

    mutating func next() throws(ClientError) -> Record? {
        guard let top = heap.first else { return nil }
        let record = current(top)
        cursors[top].position += 1
        let more = cursors[top].position < cursors[top].buffer.count ? true : try refill(top)
        if more {
            siftDown(0)
        } else {
            heap[0] = heap[heap.count - 1]
            heap.removeLast()
            if !heap.isEmpty { siftDown(0) }
        }
        return record
    }

    private func current(_ i: Int) -> Record { cursors[i].buffer[cursors[i].position] }

    /// Reads the next records of run `i`; false when it has none left.
    private mutating func refill(_ i: Int) throws(ClientError) -> Bool {
        let n = min(bufferRecords, cursors[i].end - cursors[i].next)
        guard n > 0 else { return false }
        var buffer = [Record](repeating: Record(high: 0, low: 0, index: 0), count: n)
        let offset = cursors[i].next * RepeatedActionFinder.recordBytes
        let fd = fd
        let ok = buffer.withUnsafeMutableBytes { raw -> Bool in
            var done = 0
            while done < raw.count {
                let got = pread(fd, raw.baseAddress! + done, raw.count - done, off_t(offset + done))
                if got <= 0 { return false }
                done += got
            }
            return true
        }
        guard ok else { throw ClientError(.malformedLog, "cannot read back spilled request ids: errno \(errno)") }
        cursors[i].buffer = buffer
        cursors[i].position = 0
        cursors[i].next += n
        return true
    }

    private mutating func push(_ i: Int) {
        heap.append(i)
        var c = heap.count - 1
        while c > 0, current(heap[c]) < current(heap[(c - 1) / 2]) {
            heap.swapAt(c, (c - 1) / 2)
            c = (c - 1) / 2
        }
    }

    private mutating func siftDown(_ start: Int) {
        var p = start
        while true {
            var smallest = p
            let left = 2 * p + 1
            if left < heap.count && current(heap[left]) < current(heap[smallest]) { smallest = left }
            if left + 1 < heap.count && current(heap[left + 1]) < current(heap[smallest]) { smallest = left + 1 }
            if smallest == p { return }
            heap.swapAt(p, smallest)
            p = smallest
        }
    }
}
