// Shared by the libFuzzer targets in Fuzz/ (each script compiles it into its target): how a broken invariant stops
// the fuzzer, the round-trip check, and the table of parsers a fast target picks from by the input's first byte.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NitroAttestation

/// One parser under fuzzing: the check that runs it on an input, and valid inputs that start the fuzzer on it.
struct FuzzParser: Sendable {
    let name: String
    let run: @Sendable ([UInt8]) -> Void
    /// Made only when the seeds are written (`writeSeedsIfAsked`).
    let seeds: @Sendable () -> [[UInt8]]
}

/// Runs the parser the input's first byte picks (modulo the table's size) on the rest of the input.
func runSelected(_ parsers: [FuzzParser], _ input: [UInt8]) {
    guard let first = input.first else { return }
    parsers[Int(first) % parsers.count].run(Array(input.dropFirst()))
}

/// With `CLOISTER_FUZZ_SEEDS` set to a directory, writes every parser's seeds into it, each behind the byte that
/// selects its parser, and exits; otherwise returns. Scripts call the target so before the run.
func writeSeedsIfAsked(_ parsers: [FuzzParser]) {
    guard let directory = getenv("CLOISTER_FUZZ_SEEDS").map({ String(cString: $0) }) else { return }
    var written = 0
    for (index, parser) in parsers.enumerated() {
        for (k, seed) in parser.seeds().enumerated() {
            let path = "\(directory)/seed-\(parser.name)-\(k)"
            let bytes = [UInt8(index)] + seed
            guard let file = fopen(path, "wb") else { fatalError("cannot write \(path)") }
            let count = bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, file) }
            guard fclose(file) == 0, count == bytes.count else { fatalError("cannot write \(path)") }
            written += 1
        }
    }
    print("\(written) seeds for \(parsers.count) parsers written to \(directory)")
    exit(0)
}

/// `bytes`, after checking that `parse` accepts them: a seed that its parser refuses starts the fuzzer nowhere.
func accepted<Value, Failure: Error>(_ bytes: [UInt8], _ parse: ([UInt8]) throws(Failure) -> Value) -> [UInt8] {
    do {
        _ = try parse(bytes)
    } catch {
        fatalError("a seed its parser refuses: \(error); \(hex(bytes))")
    }
    return bytes
}

func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String, _ input: [UInt8]) {
    if !condition() { die(message(), input) }
}

func die(_ message: String, _ input: [UInt8]) -> Never {
    let shown = input.count <= 512 ? hex(input) : hex(input.prefix(512)) + "... (\(input.count) bytes)"
    fatalError("invariant broken: \(message)\ninput: \(shown)")
}

func hex(_ bytes: some Sequence<UInt8>) -> String { Hex.encode(bytes) }

/// When `parse` accepts `input`, the value's encoding must parse to an equal value; with `canonical`, that
/// encoding must also be `input` itself.
func checkReparses<Value: Equatable, Failure: Error & Equatable>(
    _ name: String, _ input: [UInt8], _ parse: ([UInt8]) throws(Failure) -> Value, _ encode: (Value) -> [UInt8],
    canonical: Bool = false
) {
    guard let value = try? parse(input) else { return }
    let encoded = encode(value)
    if canonical { check(encoded == input, "\(name) parsed from bytes other than its own encoding", input) }
    let again = Result { () throws(Failure) -> Value in try parse(encoded) }
    check(again == .success(value), "\(name) does not survive re-encoding: \(again); re-encoded \(hex(encoded))", input)
}
