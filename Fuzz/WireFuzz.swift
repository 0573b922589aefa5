// libFuzzer target for the EnclaveWire decoders (Fuzz/Common/WireChecks.swift): each input's first byte picks the
// decoder, the rest is its input (Fuzz/Common/SelectorEntry.swift). Built with swiftc by Scripts/fuzz-wire; see
// Fuzz/README.md. Thrown errors are expected; a trap, a sanitizer report or a broken invariant is a bug.

let fuzzParsers = wireParsers
