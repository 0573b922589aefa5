import CloisterClient
import Foundation
import NitroAttestation
import SecureModule

extension BenchSession {
    /// How far ahead the requests expire: a minute under the enclave's limit of 15, so that an enclave clock running
    /// behind this machine's does not refuse them as too far ahead.
    static let expiryAhead: UInt64 = 14 * 60 * 1000

    /// Requests sealed and signed per task: enough to amortise a task, few enough to spread over every core.
    static let chunk = 512

    /// Writes `count` distinct `key.sign` requests for `key` to `path`, one line each: `REQUEST_ID BASE64BODY`, the
    /// body a `SealedRequest` addressed to the boot attested last and signed by the credential, expiring
    /// `expiryAhead` from now. The report line.
    func generate(key name: String, count: Int, path: String) async throws -> String {
        guard let key = keys[name] else { throw BenchFailure("no key \(name) was prepared (see --key)") }
        guard let identity = client.identities.last(where: { $0.claims.boot != nil }) ?? client.identities.last,
            let deployment = identity.deployment,
            let tenant = client.tenant
        else { throw BenchFailure("no attested identity with a deployment commitment to address requests to") }
        batchCount += 1
        let prefix = "\(runID)-b\(batchCount)-"
        let expiry = UInt64(Date().timeIntervalSince1970 * 1000) + Self.expiryAhead
        let kept = RequestBatch.keptLines(count: count)
        let credential = self.credential
        let boot = identity.boot
        let hpke = identity.claims.hpkePublicKey
        let started = ContinuousClock.now

        let chunks = try await withThrowingTaskGroup(of: (Int, [UInt8], [RequestBatch.Sample]).self) { group in
            for first in stride(from: 1, through: count, by: Self.chunk) {
                let lines = first...min(first + Self.chunk - 1, count)
                let messages = lines.map { self.message(for: prefix + String($0)) }
                group.addTask {
                    var text: [UInt8] = []
                    var samples: [RequestBatch.Sample] = []
                    for (line, input) in zip(lines, messages) {
                        let id = prefix + String(line)
                        let body = KeyMessages.encode(KeyMessages.Sign(name: name, input: Base64.encode(input)))
                        let call = try SealedCall(
                            body: body,
                            tenant: tenant,
                            operation: "key.sign",
                            requestID: id,
                            deployment: deployment,
                            boot: boot,
                            hpke: hpke,
                            expiry: expiry,
                            credentials: [credential]
                        )
                        text += Array("\(id) \(Base64.encode(call.body))\n".utf8)
                        if kept.contains(line) {
                            samples.append(.init(line: line, requestID: id, message: input, call: call))
                        }
                    }
                    return (first, text, samples)
                }
            }
            var all: [(Int, [UInt8], [RequestBatch.Sample])] = []
            for try await c in group { all.append(c) }
            return all.sorted { $0.0 < $1.0 }
        }

        guard FileManager.default.createFile(atPath: path, contents: Data(chunks.flatMap(\.1))) else {
            throw BenchFailure("cannot write \(path)")
        }
        let samples = Dictionary(uniqueKeysWithValues: chunks.flatMap(\.2).map { ($0.line, $0) })
        batches[path] = RequestBatch(key: name, count: count, samples: samples)
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return
            "\(count) key.sign requests for \(name) (\(key.kind.rawValue)) in \(path): \(String(format: "%.1f", seconds)) s,"
            + " \(String(format: "%.0f", Double(count) / max(seconds, 0.001))) per second"
    }
}
