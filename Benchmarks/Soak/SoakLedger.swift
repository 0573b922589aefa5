import Foundation

/// One request id as the load saw it: sent, acknowledged by the host (200 or 202: the job is committed), answered
/// with a signed response, and whether that answer verified (and, for `ok`, whether its opened result checked).
struct SoakRecord: Codable, Sendable {
    var tenant: String
    var kind: String
    var id: String
    /// Milliseconds since the epoch of the first send, the first acknowledgement and the verified answer.
    var sent: UInt64
    var acked: UInt64?
    var answered: UInt64?
    /// The signed status (`ok`, `otherBoot`, ...), nil when no signed answer came before the run gave up.
    var status: String?
    var verified: Bool
    /// The first 16 hex digits of the boot that signed the answer.
    var boot: String?
    /// Sends of this id (POSTs and GETs of its stored answer).
    var attempts: Int
    /// Why the answer did not verify, or its result did not check.
    var problem: String?
}

/// The records of the run, appended to a JSON-lines file as each request id reaches its answer.
actor SoakLedger {
    private(set) var records: [SoakRecord] = []
    private let handle: FileHandle

    init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw SoakFailure("cannot write \(path)")
        }
        self.handle = handle
    }

    func add(_ record: SoakRecord) {
        records.append(record)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if let line = try? encoder.encode(record) { handle.write(line + Data("\n".utf8)) }
    }
}

/// Why a step of the soak failed, in words for the report.
struct SoakFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Milliseconds since the epoch.
func nowMS() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }
