import Foundation
import NitroAttestation
import Testing
import TransparencyLog

/// The known-answer vectors in `Vectors/` (see its README for their sources).
enum Vectors {
    struct Inclusion: Decodable, Sendable, CustomTestStringConvertible {
        let leafIdx: UInt64
        let treeSize: UInt64
        let root: String
        let leafHash: String
        let proof: [String]?
        let desc: String
        let wantErr: Bool
        var file = ""
        var testDescription: String { file }
        enum CodingKeys: String, CodingKey { case leafIdx, treeSize, root, leafHash, proof, desc, wantErr }
    }

    struct Consistency: Decodable, Sendable, CustomTestStringConvertible {
        let size1: UInt64
        let size2: UInt64
        let root1: String
        let root2: String
        let proof: [String]?
        let desc: String
        let wantErr: Bool
        var file = ""
        var testDescription: String { file }
        enum CodingKeys: String, CodingKey { case size1, size2, root1, root2, proof, desc, wantErr }
    }

    struct NoteCase: Decodable, Sendable, CustomTestStringConvertible {
        let name: String
        let source: String
        let skey: String?
        let vkeys: [String]
        let note: String
        let expect: String
        let verifiedBy: [String]?
        var testDescription: String { name }
    }

    struct CheckpointCase: Decodable, Sendable, CustomTestStringConvertible {
        let name: String
        let source: String
        let note: String?
        let text: String?
        let origin: String
        let size: UInt64
        let root: String
        let leafData: String?
        let signatures: Int
        var testDescription: String { name }
    }

    struct Notes: Decodable { let notes: [NoteCase]; let checkpoints: [CheckpointCase] }

    static var root: URL { Bundle.module.url(forResource: "Vectors", withExtension: nil)! }

    static func files(_ directory: String) -> [(String, Data)] {
        let base = root.appendingPathComponent(directory)
        guard let walker = FileManager.default.enumerator(atPath: base.path) else { return [] }
        return walker.compactMap { $0 as? String }.filter { $0.hasSuffix(".json") }.sorted().map {
            ($0, try! Data(contentsOf: base.appendingPathComponent($0)))
        }
    }

    static let inclusion: [Inclusion] = files("merkle/inclusion").map { name, data in
        var v = try! JSONDecoder().decode(Inclusion.self, from: data)
        v.file = name
        return v
    }

    static let consistency: [Consistency] = files("merkle/consistency").map { name, data in
        var v = try! JSONDecoder().decode(Consistency.self, from: data)
        v.file = name
        return v
    }

    static let notes: Notes = try! JSONDecoder().decode(
        Notes.self, from: Data(contentsOf: root.appendingPathComponent("notes.json")))

    /// Whether any of these base64 hashes is not 32 bytes: where Go's verifier passes two equal roots of another
    /// length unchecked, this module refuses them (`invalidHashLength`).
    static func malformed(_ hashes: [String]) -> Bool { hashes.contains { bytes($0).count != 32 } }

    /// Checks a Merkle vector's outcome: an error when `wantErr`, `invalidHashLength` where a passing case holds a
    /// hash that is not 32 bytes, no error otherwise.
    static func expect(
        _ wantErr: Bool, hashes: [String], _ desc: String, _ run: () throws(TransparencyLogError) -> Void,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        if !wantErr && malformed(hashes) {
            #expect(throws: TransparencyLogError(.invalidHashLength, ""), "\(desc)", sourceLocation: sourceLocation) { try run() }
        } else if wantErr {
            #expect(throws: TransparencyLogError.self, "\(desc)", sourceLocation: sourceLocation) { try run() }
        } else {
            #expect(throws: Never.self, "\(desc)", sourceLocation: sourceLocation) { try run() }
        }
    }

    /// Base64 as the vectors write it; the vectors' own garbage ("don't care") decodes to what it is.
    static func bytes(_ base64: String) -> [UInt8] { Base64.decode(base64) ?? Array(base64.utf8) }
}
