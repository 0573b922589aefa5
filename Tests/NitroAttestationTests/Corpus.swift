import Foundation
import Testing

/// The real-document corpus: `$CLOISTER_NITRO_TESTDATA`, or `../shared/testdata/nitro` beside the package.
enum Corpus {
    static let directory: URL? = {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["CLOISTER_NITRO_TESTDATA"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let candidate = packageRoot.appendingPathComponent("../shared/testdata/nitro").standardizedFileURL
        return fm.fileExists(atPath: candidate.path) ? candidate : nil
    }()

    static let skipMessage = "real-document corpus not found: set CLOISTER_NITRO_TESTDATA or place it at ../shared/testdata/nitro; real-document tests did not run"

    static func files(_ subdirectory: String) -> [URL] {
        guard let directory else { return [] }
        let dir = directory.appendingPathComponent(subdirectory)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasSuffix(".cbor") }.sorted().map { dir.appendingPathComponent($0) }
    }

    static var real: [URL] { files("real") }
    static var invalid: [URL] { files("invalid") }

    static func bytes(_ url: URL) throws -> [UInt8] { Array(try Data(contentsOf: url)) }

    static var awsRootPEM: String? {
        guard let directory else { return nil }
        return try? String(contentsOf: directory.appendingPathComponent("aws_nitro_root_g1.pem"), encoding: .utf8)
    }

    /// Appends to the file named by `$CLOISTER_CORPUS_REPORT` (CI checks that real documents were verified).
    static func report(_ line: String) {
        guard let path = ProcessInfo.processInfo.environment["CLOISTER_CORPUS_REPORT"], !path.isEmpty else { return }
        let data = Data((line + "\n").utf8)
        if let handle = FileHandle(forWritingAtPath: path) {
            handle.seekToEndOfFile()
            handle.write(data)
            handle.closeFile()
        } else {
            _ = FileManager.default.createFile(atPath: path, contents: data)
        }
    }
}
