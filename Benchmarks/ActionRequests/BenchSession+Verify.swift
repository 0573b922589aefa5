import CloisterClient
import Foundation
import NitroAttestation
import SecureModule

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

extension BenchSession {
    /// Checks a few requests of the file at `path` that the load had answered (`answered` of them all told): each
    /// answer is fetched as the host stored it (`GET /v1/requests/ID`, so one the load never sent is `unknownRequest`),
    /// its signed response verified against the attested identity and the request as generated, its result opened
    /// with the key only this process holds, and the signature checked against the key's public key from
    /// `key.describe`, and refused over another message. One report line per request; whether all passed.
    func verify(path: String, answered: Int) async -> (lines: [String], passed: Bool) {
        guard let batch = batches[path] else { return (["no requests were generated in \(path)"], false) }
        let samples = batch.chosen(answered: answered)
        guard !samples.isEmpty else {
            return (["\(path): the load answered \(answered) of \(batch.count), too few to sample"], false)
        }
        var lines: [String] = []
        var passed = true
        for sample in samples {
            do {
                lines.append(
                    "key.sign \(sample.requestID) (\(batch.key), line \(sample.line)): "
                        + (try await check(sample, key: batch.key))
                )
            } catch {
                lines.append("key.sign \(sample.requestID) (\(batch.key), line \(sample.line)): FAILED: \(error)")
                passed = false
            }
        }
        return (lines, passed)
    }

    /// One request's stored answer checked end to end; what was verified.
    private func check(_ sample: RequestBatch.Sample, key name: String) async throws -> String {
        guard let key = keys[name] else { throw BenchFailure("no key \(name)") }
        let stored = try await storedAnswer(sample.requestID)
        let response = try await client.verify(
            stored,
            operation: "key.sign",
            requestID: sample.requestID,
            body: sample.call.body
        )
        guard response.status == "ok" else {
            // A refusal decided before the request was opened is plain text; any other is sealed to this request.
            let text = (try? sample.call.open(response.result)) ?? response.result
            throw BenchFailure("signed status \(response.status): \(String(decoding: text.prefix(200), as: UTF8.self))")
        }
        let result = try sample.call.open(response.result)
        guard response.receipt.receipt.approvers == [SHA.sha256(credential.spki)] else {
            throw BenchFailure("the receipt does not name this run's credential as the action's signer")
        }
        let signed = try KeyMessages.decode(KeyMessages.Signed.self, result, what: "the opened result")
        let parts = signed.signature.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "cloister", parts[1] == "v\(signed.version)",
            let signature = Base64.decode(parts[2])
        else {
            throw BenchFailure("the signature \(signed.signature.prefix(40)) is not cloister:v\(signed.version):BASE64")
        }
        guard let spki = key.publicKeys[signed.version] else {
            throw BenchFailure("key.describe listed no version \(signed.version)")
        }
        guard Base64.decode(signed.publicKey) == spki else {
            throw BenchFailure("the result names another public key than key.describe")
        }
        guard CredentialVerifier.verify(kind: key.kind, spki: spki, signature: signature, message: sample.message)
        else {
            throw BenchFailure("the signature does not verify under version \(signed.version)'s public key")
        }
        guard
            !CredentialVerifier.verify(
                kind: key.kind,
                spki: spki,
                signature: signature,
                message: sample.message + Array("!".utf8)
            )
        else {
            throw BenchFailure("the signature verifies over another message too")
        }
        if let signatures {
            let record = KeyMessages.SignatureRecord(
                type: key.kind.rawValue,
                publicKey: Base64.encode(spki),
                message: Base64.encode(sample.message),
                signature: Base64.encode(signature)
            )
            try signatures.write(contentsOf: KeyMessages.encode(record) + [UInt8(ascii: "\n")])
        }
        return
            "stored answer verified (seal, receipt \(response.receipt.receipt.sequence), request and result hashes, signer),"
            + " result opened, \(key.kind.rawValue) signature valid under v\(signed.version) from key.describe, invalid over another message"
    }

    /// The answer the host stored for `requestID`: only a 200 is one (202: still queued; 404: never sent).
    private func storedAnswer(_ requestID: String) async throws -> [UInt8] {
        guard let url = URL(string: "v1/requests/" + requestID, relativeTo: client.baseURL) else {
            throw BenchFailure("bad request id \(requestID)")
        }
        var request = URLRequest(url: url)
        if let token = client.token { request.setValue("Bearer " + token, forHTTPHeaderField: "Authorization") }
        let (data, answer) = try await URLSession.shared.data(for: request)
        let status = (answer as? HTTPURLResponse)?.statusCode ?? 0
        guard status == 200 else {
            throw BenchFailure(
                "GET /v1/requests/\(requestID) answered \(status): \(String(decoding: data.prefix(200), as: UTF8.self))"
            )
        }
        return Array(data)
    }
}
