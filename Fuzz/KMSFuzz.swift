// libFuzzer target for what the enclave and the host read from AWS and from each other about AWS: KMS's JSON answers
// (every response type and the error body), CMS EnvelopedData (KMS's CiphertextForRecipient, opened with a fixed
// recipient key), SigV4 `Authorization` headers (what the emulated KMS reads), key policies (what the emulated KMS
// evaluates) and IMDSv2 credential documents (what the host reads). Built with swiftc from the modules' NIO-free
// files, not SwiftPM; see Fuzz/README.md. Thrown errors are expected; a crash, a sanitizer report or a broken
// invariant is a bug.
//
// Invariants (each one stops the fuzzer with fatalError when broken):
//   1. A KMS answer that decodes re-encodes to JSON that decodes to an equal value.
//   2. Every `__type` maps to a code; a code that names an AWS type maps back to the same code.
//   3. An Authorization header that parses has a 4-part scope, distinct sorted signed headers and 64 hex digits.
//   4. A key policy that parses evaluates without trapping; one with no Allow statement never allows.
//   5. An envelope opens only to exactly 32 bytes (what the enclave asks for).
//   6. IMDS credentials that parse are unexpired at the time given, with non-empty parts.

import AWSKMS
import AWSRequestSigning
import Foundation
import SecureModule

/// The recipient key every envelope is tried against (made once: RSA-2048 generation is slow).
private let recipient = try! RecipientKey.generate()

@_cdecl("LLVMFuzzerTestOneInput")
public func kmsFuzzTestOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let data = start.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
    checkAnswers(data)
    checkErrorTypes(data)
    checkAuthorization(data)
    checkPolicy(data)
    checkEnvelope(data)
    checkInstanceCredentials(data)
    return 0
}

private func roundTrip<T: Codable & Equatable>(_ type: T.Type, _ data: [UInt8]) {
    guard let value = try? JSONDecoder().decode(type, from: Data(data)) else { return }
    guard let encoded = try? JSONEncoder().encode(value), let again = try? JSONDecoder().decode(type, from: encoded), again == value else {
        fatalError("\(type) does not survive a round trip")
    }
}

private func checkAnswers(_ data: [UInt8]) {
    roundTrip(KMSEncryptResponse.self, data)
    roundTrip(KMSDecryptResponse.self, data)
    roundTrip(KMSGenerateRandomResponse.self, data)
    roundTrip(KMSErrorBody.self, data)
    roundTrip(KMSDecryptRequest.self, data)
}

private func checkErrorTypes(_ data: [UInt8]) {
    let text = String(decoding: data.prefix(256), as: UTF8.self)
    let code = KMSErrorCode(awsType: text)
    if let name = KMSErrorCode.awsType(for: code), KMSErrorCode(awsType: name) != code {
        fatalError("\(code) names \(name), which maps elsewhere")
    }
}

private func checkAuthorization(_ data: [UInt8]) {
    guard let header = String(bytes: data, encoding: .utf8), let a = try? SigV4Verifier.Authorization(header) else { return }
    guard a.scope.count == 4, a.signature.utf8.count == 64, a.signedHeaders == a.signedHeaders.sorted(), Set(a.signedHeaders).count == a.signedHeaders.count,
        !a.accessKeyID.isEmpty
    else { fatalError("an Authorization header parsed outside its rules: \(header.prefix(200))") }
}

private func checkPolicy(_ data: [UInt8]) {
    guard let policy = try? EmulatedKeyPolicy(json: data) else { return }
    let context = ["kms:RecipientAttestation:PCR0": String(repeating: "0", count: 96), "kms:EncryptionContext:a": "b"]
    for action in ["kms:Decrypt", "kms:Encrypt", "kms:GenerateRandom"] {
        let decision = policy.evaluate(principal: "arn:aws:iam::000000000000:role/cloister-enclave", action: action, context: context)
        if !policy.statements.contains(where: \.allow), decision == .allowed { fatalError("a policy with no Allow allowed \(action)") }
    }
}

private func checkEnvelope(_ data: [UInt8]) {
    guard let opened = try? EnvelopedData.open(data, with: recipient, expectedLength: 32) else { return }
    if opened.count != 32 { fatalError("an envelope opened to \(opened.count) bytes, not 32") }
}

private func checkInstanceCredentials(_ data: [UInt8]) {
    let now = Date(timeIntervalSince1970: 1_767_225_600)
    guard let c = try? InstanceCredentials.parse(data, now: now) else { return }
    guard !c.accessKeyID.isEmpty, !c.secretAccessKey.isEmpty, !c.sessionToken.isEmpty, c.isValid(at: now) else {
        fatalError("IMDS credentials parsed that are empty or expired")
    }
}
