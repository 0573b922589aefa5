// libFuzzer's entry points for a target that picks its parser by the input's first byte (Scripts/lib/fuzz.sh
// compiles this file into Scripts/fuzz-wire and fuzz-webauthn): the target's own file names the table, `fuzzParsers`.

@_cdecl("LLVMFuzzerInitialize")
public func selectorFuzzInitialize(_ argc: OpaquePointer?, _ argv: OpaquePointer?) -> CInt {
    writeSeedsIfAsked(fuzzParsers)
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func selectorFuzzTestOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    runSelected(fuzzParsers, start.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? [])
    return 0
}
