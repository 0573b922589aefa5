import CloisterClient

/// One file of generated requests, and the few of them kept whole so that their results can be opened later.
///
/// The load generator splits a file between its threads line by line (thread t of n takes lines t, t+n, t+2n…),
/// so the first lines of a file are sent first whatever the thread count. The kept lines are spread over the file
/// geometrically (2, 3, 5, 9, 17, …, 2^k+1): whatever share of the file the load used, some lie well inside it.
/// Line 1 is not kept: wrk builds its first thread's first request only to check the script, and never sends it.
struct RequestBatch: Sendable {
    /// One kept request: what was signed, and the call whose key opens its result.
    struct Sample: Sendable {
        let line: Int
        let requestID: String
        let message: [UInt8]
        let call: SealedCall
    }

    let key: String
    let count: Int
    /// Kept requests by line number.
    let samples: [Int: Sample]

    /// The lines kept of a file of `count` lines.
    static func keptLines(count: Int) -> Set<Int> {
        var lines: Set<Int> = count >= 2 ? [2] : []
        var power = 2
        while power + 1 <= count {
            lines.insert(power + 1)
            power *= 2
        }
        return lines
    }

    /// Up to `limit` kept requests among the first `answered / 2` lines (the load answered those for sure, even if
    /// its threads progressed unevenly): the first one and the furthest ones.
    func chosen(answered: Int, limit: Int = 4) -> [Sample] {
        let lines = samples.keys.filter { $0 <= answered / 2 }.sorted()
        guard let first = lines.first else { return [] }
        let furthest = lines.dropFirst().suffix(limit - 1)
        return ([first] + furthest).compactMap { samples[$0] }
    }
}
