// libFuzzer target for what `key.decrypt` and `key.rewrap` read from a client, or from whatever a host stored: the
// ciphertext string (`DataCiphertext`, both schemes) and the two openers behind it (XAES256GCM and the earlier
// AES-256-GCM), tried under one fixed key. Built with swiftc from the NIO-free files involved, not SwiftPM; see
// Fuzz/README.md. Thrown errors are expected; a crash, a sanitizer report or a broken invariant is a bug.
//
// Invariants (each one stops the fuzzer with fatalError when broken):
//   1. A string that parses is exactly the text its value writes (one text per ciphertext), with the scheme's
//      nonce length, a whole tag and a version of at least 1.
//   2. A string longer than `DataCiphertext.maxTextBytes` is refused as `oversized`, before anything else.
//   3. A ciphertext opens only to a plaintext that seals, under the same key, nonce and associated data, to exactly
//      its bytes: nothing else opens (no malleability), whichever scheme read it.
//   4. Raw input as XAES-256-GCM nonce ‖ ciphertext ‖ tag obeys 3 as well, and as a plaintext it seals and opens
//      back to itself.

import NitroAttestation
import SecureModule

/// The key and associated data every ciphertext is tried under. Not a secret: Scripts/fuzz-ciphertext seeds
/// ciphertexts made under them, so that mutations start from strings that open.
private let key = (0..<32).map { UInt8(0x20 + $0) }
private let aad = Array("cloister-fuzz".utf8)

@_cdecl("LLVMFuzzerTestOneInput")
public func ciphertextFuzzTestOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let data = start.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
    checkText(String(decoding: data, as: UTF8.self))
    checkRaw(data)
    return 0
}

private func checkText(_ text: String) {
    let parsed: DataCiphertext
    do { parsed = try DataCiphertext(parsing: text) } catch {
        if text.utf8.count > DataCiphertext.maxTextBytes, error.code != .oversized { fatalError("an oversized text was refused as \(error.code)") }
        return
    }
    guard parsed.text == text else { fatalError("\(text.prefix(80)) parsed, but writes back as \(parsed.text.prefix(80))") }
    guard parsed.version >= 1, parsed.nonce.count == parsed.scheme.nonceSize, parsed.sealed.count >= AESGCM.tagSize else {
        fatalError("\(text.prefix(80)) parsed outside the format's bounds")
    }
    switch parsed.scheme {
    case .xaes256GCM: checkXAES(nonce: parsed.nonce, sealed: parsed.sealed)
    case .aes256GCM:
        guard let opened = try? AESGCM.open(parsed.sealed, key: key, nonce: parsed.nonce, aad: aad) else { return }
        guard (try? AESGCM.seal(opened, key: key, nonce: parsed.nonce, aad: aad)) == parsed.sealed else {
            fatalError("AES-256-GCM opened bytes that it does not seal to")
        }
    }
}

private func checkRaw(_ data: [UInt8]) {
    if data.count >= XAES256GCM.nonceSize { checkXAES(nonce: Array(data.prefix(XAES256GCM.nonceSize)), sealed: Array(data.dropFirst(XAES256GCM.nonceSize))) }
    let nonce = Array((data + [UInt8](repeating: 0, count: XAES256GCM.nonceSize)).prefix(XAES256GCM.nonceSize))
    guard let sealed = try? XAES256GCM.seal(data, key: key, nonce: nonce, aad: aad),
        (try? XAES256GCM.open(sealed, key: key, nonce: nonce, aad: aad)) == data
    else { fatalError("XAES-256-GCM did not open what it sealed (\(data.count) bytes)") }
}

private func checkXAES(nonce: [UInt8], sealed: [UInt8]) {
    guard let opened = try? XAES256GCM.open(sealed, key: key, nonce: nonce, aad: aad) else { return }
    guard (try? XAES256GCM.seal(opened, key: key, nonce: nonce, aad: aad)) == sealed else {
        fatalError("XAES-256-GCM opened bytes that it does not seal to")
    }
}
