import Testing

@testable import DNSStub

/// Runs the fuzz entry points over the vectors, over every single-byte change of them, and over seeded random
/// bytes, so the invariants are checked on every test run and not only under libFuzzer.
@Suite struct DNSFuzzingTests {
    static let vectors = [
        ResponseVectors.a, ResponseVectors.aaaa, ResponseVectors.cnameChain, ResponseVectors.compression,
        ResponseVectors.nxdomain, ResponseVectors.cnameLoop,
    ]

    @Test func vectorsAndTheirOneByteMutationsKeepTheInvariants() {
        for vector in Self.vectors {
            fuzzDNSResponse(vector)
            for offset in vector.indices {
                for value: UInt8 in [0x00, 0x01, 0x0C, 0x3F, 0x40, 0x7F, 0x80, 0xC0, 0xFF, vector[offset] ^ 0x20] {
                    fuzzDNSResponse(vector.with(offset, value))
                }
            }
        }
    }

    @Test func randomBytesKeepTheInvariants() {
        var generator = SplitMix64(seed: 0xD15C0)
        for round in 0..<5_000 {
            let count = Int(generator.next() % 600)
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            if round % 2 == 0, bytes.count > 12 {
                // Plausible headers get further: QR set, one question, few records.
                bytes[2] = 0x81
                bytes[3] = 0x80 | (bytes[3] & 0x03)
                bytes[4] = 0
                bytes[5] = 1
                bytes[6] = 0
                bytes[8] = 0
                bytes[10] = 0
                bytes[7] %= 4
                bytes[9] %= 3
                bytes[11] %= 2
            }
            fuzzDNSResponse(bytes)
            fuzzDNSConfigurationText(bytes)
        }
    }

    @Test func configurationTextKeepsTheInvariants() {
        for text in [
            "nameserver 1.2.3.4\nnameserver ::1\n", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8", "0.0.0.0",
            "127.0.0.1 localhost\n::1 localhost\n",
        ] {
            fuzzDNSConfigurationText(Array(text.utf8))
        }
    }
}

/// A small seeded generator, so a failing input can be found again.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
