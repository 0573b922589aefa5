// libFuzzer entry point for the TransparencyLog parsers and proof verifiers (signed notes, checkpoints, verifier
// keys, cosignatures; inclusion and consistency proofs read from the input). Built with swiftc, not SwiftPM; see
// Fuzz/README.md. The invariants live in TransparencyLogFuzzing, which the tests also run; a trap or a sanitizer
// report is a bug.

import TransparencyLog

@_cdecl("LLVMFuzzerTestOneInput")
public func tlogFuzzTestOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let data = start.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
    TransparencyLogFuzzing.fuzz(data)  // the parsers, then the proofs
    return 0
}
