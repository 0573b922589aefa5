import CloisterClient
import Foundation
import Testing

/// The enclave's memory is bounded whatever tenants send (docs/threat-model.md, "Memory"): a real enclave process
/// with small configured bounds, driven far past its key caches' bounds with many key versions, keeps its resident
/// size nearly flat; caches bounded by count (as they were) grow with every version.
@Suite(.serialized) struct MemoryProcessTests {
    typealias K = KeyServiceTests

    /// Small bounds for the caches; the store index and the action ledger keep their defaults (every key stays
    /// in the index, which the growth limit allows for).
    static let bounds = [
        "CLOISTER_KEY_CACHE_BYTES": "262144", "CLOISTER_PARSED_KEY_BYTES": "1048576", "CLOISTER_ROLLBACK_MARK_BYTES": "65536",
        "CLOISTER_CREDENTIAL_CACHE_BYTES": "65536", "CLOISTER_TENANT_KEY_BYTES": "65536", "CLOISTER_ANSWER_BYTES": "262144",
    ]

    /// Keys the tenant holds (ECDSA P-384), rotated in turn.
    static let keys = 48
    /// Rotations after the warm-up: each makes a new version whose private key is parsed (the answer describes
    /// every version's public key) and kept by the parsed-key cache, and a larger record for the key cache: about
    /// 3.3 KB each that caches bounded by count (as they were) keep: over 3 MB in all, on top of what the bounded
    /// enclave grows by.
    static let rotations = 1000
    /// Most the enclave's resident size may grow over the rotations: the bounded caches filling to their bounds
    /// (1.3 MiB), the action ledger's entries (160 bytes each) and room for the allocator (measured: +2.5 MB for
    /// 1,200 rotations).
    static let growthLimitKB = 3 * 1024

    /// The enclave process's resident set size (`VmRSS`, kB).
    static func residentKB(_ pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        return try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? ""))
    }

    /// Runs `operations` (operation, body) `width` at a time.
    static func run(_ c: CloisterClient, _ operations: [(String, [String: String])], width: Int) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func add(_ group: inout ThrowingTaskGroup<Void, any Error>) {
                let (op, body) = operations[next]
                group.addTask { _ = try await K.key(c, op, body) }
                next += 1
            }
            while next < min(operations.count, width) { add(&group) }
            while try await group.next() != nil {
                if next < operations.count { add(&group) }
            }
        }
    }

    /// `count` rotations, of each key in turn.
    static func rotating(_ count: Int) -> [(String, [String: String])] { (0..<count).map { ("rotate", ["name": "k\($0 % keys)"]) } }

    @Test func manyKeyVersionsKeepTheEnclavesResidentSizeWithinItsBounds() async throws {
        let f = try await K.start(environment: Self.bounds)
        let c = f.client()
        let pid = try #require(try await f.host.enclavePID())
        // Creates change the tenant's key index, which concurrent creates retry on (16 times at most): 8 at a time.
        try await Self.run(c, (0..<Self.keys).map { ("create", ["name": "k\($0)", "type": "ecdsa-p384"]) }, width: 8)
        // Warm-up: the allocator's arenas, the event loops' buffers and the caches fill to their bounds.
        try await Self.run(c, Self.rotating(200), width: 12)
        let before = try Self.residentKB(pid)
        let started = Date()
        try await Self.run(c, Self.rotating(Self.rotations), width: 12)
        let after = try Self.residentKB(pid)
        print("enclave VmRSS \(before) kB -> \(after) kB (+\(after - before) kB) over \(Self.rotations) rotations in \(Int(Date().timeIntervalSince(started))) s")
        #expect(after - before < Self.growthLimitKB, "the enclave grew by \(after - before) kB over \(Self.rotations) rotations")

        // Early versions and keys left the caches long ago: they are read from the store again and still verify.
        let input = K.b64("still here")
        for name in ["k0", "k1", "k\(Self.keys - 1)"] {
            let signed = try await K.key(c, "sign", ["name": name, "input": input])
            let verified = try await K.key(c, "verify", ["name": name, "input": input, "signature": signed["signature"]!])
            #expect(verified["valid"] as? Bool == true)
            let described = try await K.key(c, "describe", ["name": name])
            #expect((described["versions"] as? [Any])?.count ?? 0 > 20)
        }
        #expect(try await f.host.enclavePID() == pid)
    }
}
