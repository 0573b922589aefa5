import Foundation
import GRDB
import Testing
import TransparencyLog

@testable import HostRuntime

/// Consistency proofs from the stored receipts through kept block roots are the proofs made from every leaf, at sizes
/// across several blocks; a receipt not stored yet, or two different ones at one index, are named.
@Suite struct LogNodeCacheTests {
    static func database(leaves: [[UInt8]], skip: Set<Int> = [], twice: [Int: [UInt8]] = [:]) throws -> HostDatabase {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-lognodes-\(UUID().uuidString).sqlite").path
        let database = try HostDatabase(path: path)
        try database.pool.write { db in
            var seq = 0
            func insert(_ index: Int, _ leaf: [UInt8]) throws {
                seq += 1
                try db.execute(
                    sql: "INSERT INTO receipts (boot, seq, entry, received, log_index, leaf) VALUES (?, ?, ?, 0, ?, ?)",
                    arguments: [Data([1]), seq, Data([UInt8(truncatingIfNeeded: index)]), index, Data(leaf)])
            }
            for (i, leaf) in leaves.enumerated() where !skip.contains(i) { try insert(i, leaf) }
            for (i, leaf) in twice { try insert(i, leaf) }
        }
        return database
    }

    static let leaves = (0..<1300).map { TreeHash.leaf(Array("receipt \($0)".utf8)) }

    @Test func proofsThroughBlockRootsAreTheProofsFromEveryLeaf() throws {
        let database = try Self.database(leaves: Self.leaves, twice: [300: Self.leaves[300]])
        let cache = LogNodeCache()
        let sizes: [UInt64] = [1, 2, 255, 256, 257, 511, 512, 513, 767, 768, 1024, 1025, 1299, 1300]
        for old in sizes {
            for new in sizes where new >= old {
                let expected = try ConsistencyProof.make(oldSize: old, newSize: new, leafHashes: Self.leaves)
                let made = try database.pool.read { db in
                    try ConsistencyProof.make(oldSize: old, newSize: new) { (start, count) throws(TransparencyLogError) -> [UInt8] in
                        do { return try cache.root(db, start: start, count: count) } catch { throw TransparencyLogError(.indexOutOfRange, "\(error)") }
                    }
                }
                #expect(made == expected, "\(old) -> \(new)")
            }
        }
        for size in sizes {
            #expect(try database.pool.read { db in try cache.root(db, start: 0, count: size) } == TreeHash.root(leafHashes: Self.leaves[0..<Int(size)]))
        }
        #expect(cache.count == 5, "the whole blocks below 1,300 leaves are kept, and only they")
    }

    @Test func aMissingOrConflictingReceiptIsNamed() throws {
        let missing = try Self.database(leaves: Self.leaves, skip: [700])
        #expect(throws: LogNodeCache.Failure.missing(700)) { try missing.pool.read { db in try LogNodeCache().root(db, start: 0, count: 1024) } }
        // Below the gap the log is whole.
        #expect(try missing.pool.read { db in try LogNodeCache().root(db, start: 0, count: 512) } == TreeHash.root(leafHashes: Self.leaves[0..<512]))
        let conflict = try Self.database(leaves: Self.leaves, twice: [5: TreeHash.leaf([9])])
        #expect(throws: LogNodeCache.Failure.conflict(5)) { try conflict.pool.read { db in try LogNodeCache().root(db, start: 0, count: 8) } }
    }
}
