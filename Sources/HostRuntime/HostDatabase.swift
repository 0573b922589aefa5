import Foundation
import GRDB

/// The host's SQLite file (WAL, `synchronous = FULL`): tenants and their hashed tokens, the job queue with
/// each job's signed response, the receipt log, the boot attestation documents, and the enclave's opaque
/// blobs. Everything here is either public or sealed by the enclave; the host is not trusted with it.
public final class HostDatabase: Sendable {
    public let pool: DatabasePool
    public let path: String

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    public init(path: String) throws {
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            // FULL: every commit is on disk (WAL fsync) before it returns, so an acknowledged job survives a
            // crash or power loss; group commits keep that to one fsync per batch.
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        configuration.busyMode = .timeout(10)
        pool = try DatabasePool(path: path, configuration: configuration)
        self.path = path
        // The pool switches its writer to WAL after `prepareDatabase`, and with it to `synchronous = NORMAL`
        // (commits reach the disk only at checkpoints). Set FULL again on the writer, outside any transaction.
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        try Self.migrator.migrate(pool)
    }

    /// Runs `body` on one of the pool's readers without holding a thread of the cooperative pool. Async code reads
    /// through this, never through `pool.read` (which Swift picks whenever the result is not `Sendable`, rows for
    /// one): that waits for a free reader on the calling thread, one of the few that all of the host's tasks run
    /// on, and the readers it waits for may be held by tasks that need such a thread to finish: the host stops.
    public func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await pool.read(body)
    }

    /// The rows `sql` selects, read as `read` reads. (Fetched rows own their values, so they may cross threads.)
    public func rows(_ sql: String, _ arguments: StatementArguments = StatementArguments()) async throws -> [Row] {
        let sendable = SendableArguments(arguments)
        return try await read { db in FetchedRows(rows: try Row.fetchAll(db, sql: sql, arguments: sendable.arguments)) }.rows
    }

    private struct FetchedRows: @unchecked Sendable {
        let rows: [Row]
    }

    private struct SendableArguments: @unchecked Sendable {
        let arguments: StatementArguments
        init(_ arguments: StatementArguments) { self.arguments = arguments }
    }

    /// The writer's `synchronous` setting (2: FULL, every commit synced).
    public func synchronousLevel() throws -> Int {
        try pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE tenants (
                        id INTEGER PRIMARY KEY,
                        name TEXT NOT NULL UNIQUE,
                        created INTEGER NOT NULL
                    );
                    CREATE TABLE tokens (
                        hash BLOB PRIMARY KEY,
                        tenant_id INTEGER REFERENCES tenants(id),
                        role TEXT NOT NULL CHECK (role IN ('tenant', 'auditor')),
                        created INTEGER NOT NULL
                    );
                    CREATE TABLE jobs (
                        id INTEGER PRIMARY KEY,
                        tenant_id INTEGER NOT NULL REFERENCES tenants(id),
                        request_id TEXT NOT NULL,
                        op TEXT NOT NULL,
                        body BLOB NOT NULL,
                        request_hash BLOB NOT NULL,
                        created INTEGER NOT NULL,
                        completed INTEGER,
                        status TEXT,
                        seq INTEGER,
                        response BLOB,
                        UNIQUE (tenant_id, request_id)
                    );
                    CREATE INDEX jobs_pending ON jobs (id) WHERE completed IS NULL;
                    CREATE TABLE receipts (
                        n INTEGER PRIMARY KEY AUTOINCREMENT,
                        boot BLOB NOT NULL,
                        seq INTEGER NOT NULL,
                        entry BLOB NOT NULL,
                        received INTEGER NOT NULL,
                        UNIQUE (boot, seq)
                    );
                    CREATE TABLE boots (
                        hash BLOB PRIMARY KEY,
                        document BLOB NOT NULL,
                        first_seen INTEGER NOT NULL
                    );
                    CREATE TABLE blobs (
                        key TEXT PRIMARY KEY,
                        version INTEGER NOT NULL,
                        value BLOB NOT NULL,
                        updated INTEGER NOT NULL
                    );
                    """)
        }
        // The deployment log: each receipt's index in it and its leaf hash, so that consistency proofs between
        // any two heads can be made from the stored receipts (receipts of builds without the log have neither).
        m.registerMigration("v2-log") { db in
            try db.execute(
                sql: """
                    ALTER TABLE receipts ADD COLUMN log_index INTEGER;
                    ALTER TABLE receipts ADD COLUMN leaf BLOB;
                    CREATE INDEX receipts_log ON receipts (log_index) WHERE log_index IS NOT NULL;
                    """)
        }
        registerReceiptTenants(&m)
        return m
    }
}

extension Data {
    var bytes: [UInt8] { [UInt8](self) }
}
