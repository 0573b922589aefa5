// libFuzzer entry point for the audit export's reader and streaming verifier (cloister-audit-cbor/2: header,
// batch records with log heads, gap records, the end record). Built with swiftc, not SwiftPM; see Fuzz/README.md.
// The invariants live in AuditStreamFuzzing, which the tests also run; a trap or a sanitizer report is a bug.

import CloisterClient

@_cdecl("LLVMFuzzerTestOneInput")
public func auditFuzzTestOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let data = start.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
    AuditStreamFuzzing.fuzz(data)
    return 0
}
