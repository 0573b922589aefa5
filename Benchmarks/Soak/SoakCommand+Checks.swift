import CloisterClient
import Foundation

/// The end-of-run figures: what was lost, what took effect twice, and how each tenant's keys stand.
struct SoakSummary: Codable {
    struct KeyCount: Codable {
        var tenant: String
        var key: String
        /// latestVersion - 1 as key.describe reports it, and the rotations of it answered ok.
        var rotationsApplied: Int
        var rotationsAnsweredOK: Int
        /// ok rotations that reported the same resulting version as another.
        var repeatedVersions: Int
        /// Rotations refused `otherBoot` or `actionExpired` and signed again: each may have taken effect unanswered.
        var inDoubt: Int
    }
    var acknowledged = 0
    /// Acknowledged request ids whose signed answer was fetched again and verified.
    var refetchedVerified = 0
    var lost = 0
    var lostIDs: [String] = []
    var appliedTwice = 0
    var effectsMissing = 0
    /// Effects of a signed action that a boot applied and died before answering (its retry is another signed
    /// action): rotations beyond those answered ok, within those in doubt, and creations found made.
    var appliedUnanswered = 0
    var problems = 0
    var problemIDs: [String] = []
    var rotations: [KeyCount] = []
    var keysListed: [String: Int] = [:]
    var keysExpected: [String: Int] = [:]
    var notes: [String] = []
}

extension SoakCommand {
    /// Acknowledged ids fetched again and verified at once (each is a GET and a signature check).
    static let checkWidth = 32

    static func checks(_ loads: [SoakTenant], ledger: SoakLedger) async -> SoakSummary {
        var summary = SoakSummary()
        let records = await ledger.records
        for r in records where r.problem != nil {
            summary.problems += 1
            if summary.problemIDs.count < 20 { summary.problemIDs.append("\(r.id): \(r.problem!)") }
        }
        for tenant in loads {
            let acked = records.filter { $0.tenant == tenant.name && $0.acked != nil }
            summary.acknowledged += acked.count
            // Every acknowledged id: its signed answer, fetched again as the host keeps it, verifies, with the same
            // status the load saw (if it saw one).
            SoakCommand.say("checking \(acked.count) acknowledged ids of \(tenant.name) \(nowMS())")
            await withTaskGroup(of: (String, String?).self) { group in
                var pending = acked.makeIterator()
                for _ in 0..<SoakCommand.checkWidth {
                    guard let r = pending.next() else { break }
                    group.addTask { (r.id, await SoakCommand.refetch(tenant, r)) }
                }
                while let (id, failure) = await group.next() {
                    if let failure {
                        summary.lost += 1
                        if summary.lostIDs.count < 20 { summary.lostIDs.append("\(id): \(failure)") }
                    } else {
                        summary.refetchedVerified += 1
                    }
                    let done = summary.lost + summary.refetchedVerified
                    if done % 2000 == 0 { SoakCommand.say("checked \(done) ids \(nowMS())") }
                    if let r = pending.next() { group.addTask { (r.id, await SoakCommand.refetch(tenant, r)) } }
                }
            }
            let state = tenant.state.withLock { ($0.rotations, $0.created, $0.rotationKey, $0.inDoubt, $0.createdInDeadBoot) }
            summary.appliedUnanswered += state.4
            do {
                for n in 0...state.2 {
                    let name = SoakTenant.rotationKeyName(n)
                    let described = try await tenant.describe(name)
                    guard let latest = described["latestVersion"] as? Int else { throw SoakFailure("no latestVersion for \(name)") }
                    let versions = Array((state.0[name] ?? [:]).values)
                    let count = SoakSummary.KeyCount(
                        tenant: tenant.name, key: name, rotationsApplied: latest - 1, rotationsAnsweredOK: versions.count,
                        repeatedVersions: versions.count - Set(versions).count, inDoubt: state.3[name] ?? 0)
                    summary.rotations.append(count)
                    // More rotations than were answered ok: each extra one must be a refused signing that took
                    // effect in a boot that died; past those, one signed action took effect twice.
                    let unanswered = max(0, count.rotationsApplied - count.rotationsAnsweredOK)
                    summary.appliedUnanswered += min(unanswered, count.inDoubt)
                    summary.appliedTwice += max(0, unanswered - count.inDoubt) + count.repeatedVersions
                    summary.effectsMissing += max(0, count.rotationsAnsweredOK - count.rotationsApplied)
                }
                let listed = try SoakTenant.object(try await tenant.client.sealedRead("key.list", body: SoakTenant.json([:])).result, "key.list")
                let names = Set(listed["keys"] as? [String] ?? [])
                let expected = SoakTenant.signingKeys.count + 2 + state.1.count
                summary.keysListed[tenant.name] = names.count
                summary.keysExpected[tenant.name] = expected
                summary.appliedTwice += max(0, names.count - expected)
                summary.effectsMissing += state.1.filter { !names.contains($0) }.count
            } catch {
                summary.problems += 1
                summary.notes.append("\(tenant.name): the key counts could not be read: \(error)")
            }
        }
        return summary
    }

    /// Nil if the host still has `record`'s signed answer and it verifies (with the status the load saw); else why not.
    static func refetch(_ tenant: SoakTenant, _ record: SoakRecord) async -> String? {
        guard let sent = tenant.state.withLock({ $0.sent[record.id] }) else { return "not sent by this run" }
        var last = "no answer"
        for _ in 0..<20 {
            do {
                let (status, body) = try await tenant.http("GET", "v1/requests/" + record.id)
                guard status == 200 else {
                    last = "GET /v1/requests/\(record.id) answered \(status): \(String(decoding: body.prefix(120), as: UTF8.self))"
                    if status == 202 { try? await Task.sleep(for: .milliseconds(500)); continue }
                    return last
                }
                let answer = try await tenant.client.verify(body, operation: sent.operation, requestID: record.id, body: sent.call.body)
                if let seen = record.status, seen != answer.status { return "answered \(answer.status) now, \(seen) during the load" }
                return nil
            } catch {
                last = "\(error)"
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
        return last
    }
}
