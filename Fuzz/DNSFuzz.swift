// libFuzzer entry point for the DNSStub parsers. Built with swiftc from the module's NIO-free files, not SwiftPM;
// see Fuzz/README.md. Thrown errors are expected; a trap or a sanitizer report is a bug.

@_cdecl("LLVMFuzzerTestOneInput")
public func dnsFuzzTestOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let data = start.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
    fuzzDNSResponse(data)
    fuzzDNSConfigurationText(data)
    return 0
}
