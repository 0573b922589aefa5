// libFuzzer target for the WebAuthn parsers and ceremonies (Fuzz/Common/WebAuthnChecks.swift): each input's first
// byte picks the parser, the rest is its input (Fuzz/Common/SelectorEntry.swift). Built with swiftc by
// Scripts/fuzz-webauthn; see Fuzz/README.md. Thrown errors are expected; a trap, a sanitizer report or a broken
// invariant is a bug.

let fuzzParsers = webAuthnParsers
