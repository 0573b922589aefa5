import CloisterClient
import CloisterTestSupport
import EnclaveRuntime
import Foundation
import SecureModule
import Synchronization
import Testing

@testable import KeyService

/// Concurrent jobs of one tenant change its records one at a time (`RecordLocks`): the key limit holds however many
/// creates arrive together, and concurrent rotations of one key all apply, each once. Without the locks, creates that
/// all read the index before any wrote it passed the limit together, and rotations beyond the compare-and-swap's
/// retries failed `conflict`.
@Suite struct ConcurrentChangeTests {
    typealias Enclave = ActionTests.Enclave

    /// Runs `count` calls of `op` at once; their statuses, counted.
    static func together(_ e: Enclave, _ count: Int, by key: CredentialKey, _ call: @escaping @Sendable (Int) -> (String, [String: Any])) async throws -> [String: Int] {
        try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<count {
                let (op, body) = call(i)
                nonisolated(unsafe) let b = body
                group.addTask { try await TenantLimitsTests.status(e, op, b, by: key) }
            }
            return try await group.reduce(into: [:]) { $0[$1, default: 0] += 1 }
        }
    }

    @Test func concurrentCreatesStopAtTheKeyLimit() async throws {
        var limits = KeyVault.Limits()
        limits.keysPerTenant = 5
        let e = try await Enclave(store: MemoryStore(latency: .milliseconds(2)), limits: limits)
        let acme = try CredentialKey.generate(.ed25519)
        _ = try await e.register(acme)
        let statuses = try await Self.together(e, 20, by: acme) { ("key.create", ["name": "k\($0)", "type": "ed25519"]) }
        #expect(statuses == ["ok": 5, "tooManyKeys": 15], "\(statuses)")
        let listed = try await e.ok("key.list", [:], by: acme)["keys"] as? [String]
        #expect(listed?.count == 5)
    }

    @Test func concurrentRotationsOfOneKeyAllApplyOnce() async throws {
        let e = try await Enclave(store: MemoryStore(latency: .milliseconds(2)))
        let acme = try CredentialKey.generate(.ed25519)
        _ = try await e.register(acme)
        _ = try await e.ok("key.create", ["name": "hot", "type": "ed25519"], by: acme)
        let statuses = try await Self.together(e, 24, by: acme) { _ in ("key.rotate", ["name": "hot"]) }
        #expect(statuses == ["ok": 24], "\(statuses)")
        let versions = try await e.ok("key.describe", ["name": "hot"], by: acme)["versions"] as? [Any]
        #expect(versions?.count == 25)
    }

    @Test func aRecordLockIsHeldByOneAtATimeInArrivalOrderAndThenDropped() async throws {
        let locks = RecordLocks()
        final class Seen: Sendable {
            let order = Mutex<[Int]>([])
            let inside = Mutex(0)
        }
        let seen = Seen()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<50 {
                group.addTask {
                    try await locks.withLock("acme\u{0}k") { () throws(KeyServiceError) in
                        let now = seen.inside.withLock { n -> Int in
                            n += 1
                            return n
                        }
                        #expect(now == 1, "two holders at once")
                        try? await Task.sleep(for: .microseconds(200))
                        seen.order.withLock { $0.append(i) }
                        seen.inside.withLock { $0 -= 1 }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(seen.order.withLock { $0.count } == 50)
        #expect(locks.count == 0, "a lock nobody holds or waits for is dropped")
        // Another record's lock is not held up by this one's.
        try await locks.withLock("acme\u{0}a") { () throws(KeyServiceError) in
            try await locks.withLock("acme\u{0}b") { () throws(KeyServiceError) in #expect(locks.count == 2) }
        }
    }
}
