import CloisterClient
import Foundation
import NitroAttestation
import TransparencyLog

/// What a witness remembers between rounds: the deployment it follows and the newest head it cosigned, as the
/// deployment signed it. Nothing in it is secret. File form (JSON): `{"format": "cloister-witness-state/1",
/// "deployment": HEX, "checkpoint": NOTE}`; written whole or not at all.
public struct WitnessState: Sendable, Hashable {
    public static let format = "cloister-witness-state/1"
    /// The largest state file read.
    public static let maxBytes = 128 * 1024

    /// The deployment's commitment.
    public var deployment: [UInt8]
    /// The newest head cosigned, verified against the deployment key.
    public var head: LogHead

    public init(deployment: [UInt8], head: LogHead) {
        self.deployment = deployment
        self.head = head
    }

    private struct File: Encodable {
        let format: String
        let deployment: String
        let checkpoint: String
    }

    /// The file form.
    public var json: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let file = File(format: Self.format, deployment: Hex.encode(deployment).lowercased(), checkpoint: String(decoding: head.note, as: UTF8.self))
        return Array((try? encoder.encode(file)) ?? Data()) + [0x0A]
    }

    /// Parses a state file of deployment `deployment`: its head must verify with that deployment's key.
    public init(json bytes: [UInt8], deployment expected: [UInt8]) throws(WitnessError) {
        let deployment: [UInt8]
        let note: [UInt8]
        do {
            let r = try JSONObjectReader(bytes, maxBytes: Self.maxBytes, keys: ["format", "deployment", "checkpoint"], required: ["format", "deployment", "checkpoint"])
            _ = try r.oneOf("format", [Self.format])
            deployment = try r.hex("deployment", count: 32)
            note = Array(try r.string("checkpoint", maxBytes: SignedNote.maxBytes).utf8)
        } catch {
            throw WitnessError(.stateInvalid, "not a \(Self.format) file: \(error)")
        }
        guard deployment == expected else {
            throw WitnessError(.stateInvalid, "the state follows deployment \(Hex.encode(deployment)), not \(Hex.encode(expected))")
        }
        do { head = try LogHead.verify(note, deployment: deployment) } catch {
            throw WitnessError(.stateInvalid, "the state's head is not the deployment's: \(error.message)")
        }
        self.deployment = deployment
    }

    /// The state at `path`, or nil when there is no file yet.
    public static func load(path: String, deployment: [UInt8]) throws(WitnessError) -> WitnessState? {
        let bytes: [UInt8]?
        do { bytes = try DurableFile.read(path, maxBytes: maxBytes) } catch { throw WitnessError(.stateInvalid, "\(error)") }
        return try bytes.map { bytes throws(WitnessError) in try WitnessState(json: bytes, deployment: deployment) }
    }

    /// Writes the state to `path` whole or not at all.
    public func save(path: String) throws(WitnessError) {
        do { try DurableFile.replace(path, with: json) } catch { throw WitnessError(.stateUnwritable, "\(error)") }
    }
}
