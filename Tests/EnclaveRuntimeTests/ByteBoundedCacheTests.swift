import Testing

@testable import EnclaveRuntime

/// The enclave's caches hold at most their bound in bytes, evicting the least recently used first
/// (docs/threat-model.md, "Memory").
@Suite struct ByteBoundedCacheTests {
    typealias Cache = ByteBoundedCache<String, [UInt8]>
    static let overhead = Cache.entryOverhead

    @Test func pastItsBoundTheLeastRecentlyUsedGoFirst() {
        var cache = Cache(maxBytes: 4 * (100 + Self.overhead))
        for i in 0..<4 {
            let kept = cache.insert("k\(i)", [UInt8](repeating: UInt8(i), count: 100), bytes: 100)
            #expect(kept)
        }
        #expect(cache.count == 4)
        #expect(cache.bytes == 4 * (100 + Self.overhead))
        // k0 is used, so k1 is now the least recently used.
        let used = cache.value("k0")
        #expect(used == [UInt8](repeating: 0, count: 100))
        cache.insert("k4", [4], bytes: 100)
        #expect(cache.peek("k1") == nil)
        #expect(cache.peek("k0") != nil)
        #expect(cache.evictions == 1)
        // A larger entry evicts as many as it needs.
        cache.insert("big", [9], bytes: 250)
        #expect(cache.bytes <= cache.maxBytes)
        #expect(cache.peek("big") == [9])
        #expect(cache.peek("k2") == nil && cache.peek("k3") == nil)
    }

    @Test func theByteCountStaysAtOrUnderTheBoundWhateverIsInserted() {
        var cache = Cache(maxBytes: 10_000)
        var seed: UInt64 = 42
        for i in 0..<5000 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1
            let size = Int(seed >> 52)  // up to 4095: some entries alone fill most of the cache
            cache.insert("k\(i % 700)", [], bytes: size)
            #expect(cache.bytes <= 10_000)
            if i % 3 == 0 { _ = cache.value("k\(Int(seed >> 40) % 700)") }
            if i % 7 == 0 { cache.remove("k\(Int(seed >> 30) % 700)") }
        }
        #expect(cache.evictions > 0)
    }

    @Test func anEntryLargerThanTheCacheIsNotKeptAndReplacesNothingStale() {
        var cache = Cache(maxBytes: 1000)
        cache.insert("a", [1], bytes: 10)
        // Replacing "a" with a value too large forgets "a": the old value must not be served as current.
        let kept = cache.insert("a", [2], bytes: 5000)
        #expect(!kept)
        #expect(cache.peek("a") == nil)
        #expect(cache.bytes == 0)
        cache.removeAll()
        #expect(cache.count == 0)
    }
}
