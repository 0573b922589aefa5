import Foundation
import GRDB
import NitroAttestation
import Synchronization
import VsockBridge

/// Who is calling: a tenant (its calls become jobs), an auditor (reads the receipt log), or the administrator
/// (creates tenants and tokens; its token comes from the host's configuration, never from the database).
public enum Principal: Sendable, Hashable {
    case tenant(id: Int64, name: String)
    case auditor
    case admin
}

/// API tokens: `ct_` and 43 base64url characters (32 random bytes). Only their SHA-256 is stored; the table is
/// mirrored in memory, since this host is the only writer.
public final class APIAuthenticator: Sendable {
    private let database: HostDatabase
    private let committer: GroupCommitter
    private let adminHash: [UInt8]?
    private let tokens = Mutex<[[UInt8]: Principal]>([:])

    public init(database: HostDatabase, committer: GroupCommitter, adminToken: String?) throws {
        self.database = database
        self.committer = committer
        adminHash = adminToken.map { SHA.sha256(Array($0.utf8)) }
        let rows = try database.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT tokens.hash, tokens.role, tenants.id, tenants.name FROM tokens LEFT JOIN tenants ON tenants.id = tokens.tenant_id")
        }
        tokens.withLock { map in
            for r in rows {
                let hash = (r[0] as Data).bytes
                if (r[1] as String) == "auditor" { map[hash] = .auditor } else if let id: Int64 = r[2], let name: String = r[3] { map[hash] = .tenant(id: id, name: name) }
            }
        }
    }

    /// Whether an admin token is configured.
    public var adminEnabled: Bool { adminHash != nil }

    /// The principal an `Authorization` header names, or nil.
    public func principal(authorization: String?) -> Principal? {
        guard let authorization, authorization.hasPrefix("Bearer "), authorization.utf8.count <= 256 else { return nil }
        let hash = SHA.sha256(Array(authorization.utf8.dropFirst(7)))
        if let adminHash, ConstantTime.equal(hash, adminHash) { return .admin }
        return tokens.withLock { $0[hash] }
    }

    /// Creates a tenant; 409 `tenantExists` when the name is taken.
    public func createTenant(_ name: String) async throws(APIError) {
        let now = Int64(WallClock.milliseconds())
        let created: Bool
        do {
            created = try await committer.run { db in
                try db.execute(sql: "INSERT INTO tenants (name, created) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", arguments: [name, now])
                return db.changesCount == 1
            }
        } catch { throw APIError.storage(error) }
        guard created else { throw APIError(409, "tenantExists", "tenant \(name) exists") }
    }

    /// Creates a token for a tenant (or, with nil, an auditor token) and returns it; it is shown only once.
    public func createToken(tenant: String?) async throws(APIError) -> String {
        let token = "ct_" + Random.base64url(32)
        let hash = SHA.sha256(Array(token.utf8))
        let now = Int64(WallClock.milliseconds())
        let principal: Principal?
        do {
            principal = try await committer.run { db -> Principal? in
                if let tenant {
                    guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM tenants WHERE name = ?", arguments: [tenant]) else { return nil }
                    try db.execute(sql: "INSERT INTO tokens (hash, tenant_id, role, created) VALUES (?, ?, 'tenant', ?)", arguments: [Data(hash), id, now])
                    return .tenant(id: id, name: tenant)
                }
                try db.execute(sql: "INSERT INTO tokens (hash, tenant_id, role, created) VALUES (?, NULL, 'auditor', ?)", arguments: [Data(hash), now])
                return .auditor
            }
        } catch { throw APIError.storage(error) }
        guard let principal else { throw APIError(404, "unknownTenant", "no tenant \(tenant ?? "")") }
        tokens.withLock { $0[hash] = principal }
        return token
    }
}

