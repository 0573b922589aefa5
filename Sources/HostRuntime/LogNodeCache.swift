import Foundation
import GRDB
import Synchronization
import TransparencyLog

/// Roots of ranges of the deployment log, from the receipts the host stores, for consistency proofs. The root of each
/// whole block of 256 leaves is kept once made (32 bytes a block: 125 KB per million receipts), so a proof reads at
/// most a few hundred leaves and hashes the blocks' roots, instead of reading and hashing the whole log for every
/// request (which made the host's memory grow with the log under many clients).
final class LogNodeCache: Sendable {
    static let blockSize: UInt64 = 256

    /// Why a range's root could not be made from the stored receipts.
    enum Failure: Error, Equatable {
        /// The receipt at this index is not stored (yet: a batch on its way).
        case missing(UInt64)
        /// Two different receipts are stored at this index.
        case conflict(UInt64)
    }

    private let blocks = Mutex<[UInt64: [UInt8]]>([:])

    /// Blocks whose roots are kept.
    var count: Int { blocks.withLock { $0.count } }

    /// The root of the `count` leaves from `start` (count ≥ 1), read through `db`.
    func root(_ db: Database, start: UInt64, count: UInt64) throws -> [UInt8] {
        // A whole, aligned subtree of whole blocks: the perfect tree over the blocks' roots.
        if count >= Self.blockSize, count & (count - 1) == 0, start % count == 0 {
            let first = start / Self.blockSize
            var roots: [[UInt8]] = []
            roots.reserveCapacity(Int(count / Self.blockSize))
            for b in first..<first + count / Self.blockSize { roots.append(try block(db, b)) }
            return TreeHash.subtreeRoot(roots[...])
        }
        if count <= Self.blockSize { return TreeHash.subtreeRoot(try leaves(db, start: start, count: count)[...]) }
        let k = TreeHash.split(count)
        return TreeHash.node(try root(db, start: start, count: k), try root(db, start: start + k, count: count - k))
    }

    private func block(_ db: Database, _ b: UInt64) throws -> [UInt8] {
        if let kept = blocks.withLock({ $0[b] }) { return kept }
        let root = TreeHash.subtreeRoot(try leaves(db, start: b * Self.blockSize, count: Self.blockSize)[...])
        blocks.withLock { $0[b] = root }
        return root
    }

    /// The leaf hashes `start ..< start + count`, each once (the same receipt stored twice is one leaf).
    private func leaves(_ db: Database, start: UInt64, count: UInt64) throws -> [[UInt8]] {
        let rows = try Row.fetchCursor(
            db, sql: "SELECT log_index, leaf FROM receipts WHERE log_index >= ? AND log_index < ? ORDER BY log_index",
            arguments: [Int64(start), Int64(start + count)])
        var out: [[UInt8]] = []
        out.reserveCapacity(Int(count))
        while let row = try rows.next() {
            let index = UInt64(row[0] as Int64)
            let leaf = (row[1] as Data).bytes
            let i = index - start
            if i < UInt64(out.count) {
                guard out[Int(i)] == leaf else { throw Failure.conflict(index) }
                continue
            }
            guard i == UInt64(out.count) else { throw Failure.missing(start + UInt64(out.count)) }
            out.append(leaf)
        }
        guard UInt64(out.count) == count else { throw Failure.missing(start + UInt64(out.count)) }
        return out
    }
}
