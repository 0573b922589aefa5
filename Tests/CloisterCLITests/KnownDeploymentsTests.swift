import Foundation
import Testing

@testable import cloister

@Suite struct KnownDeploymentsTests {
    static let a = String(repeating: "a1", count: 32)
    static let b = String(repeating: "b2", count: 32)

    static func directory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-known-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func roundTripsKeepingCommentsAndOrder() throws {
        let text = "# services this user has seen\nhttp://127.0.0.1:8080/ \(Self.a)\n\nhttps://keys.example.com/api/ \(Self.b.uppercased())\n"
        var known = try KnownDeployments(path: "f", text: text)
        #expect(known[URL(string: "http://127.0.0.1:8080/")!] == [UInt8](repeating: 0xA1, count: 32))
        #expect(known[URL(string: "https://keys.example.com/api/")!] == [UInt8](repeating: 0xB2, count: 32))
        #expect(known[URL(string: "http://127.0.0.1:8081/")!] == nil)
        #expect(known.text == text.replacingOccurrences(of: Self.b.uppercased(), with: Self.b))
        #expect(try KnownDeployments(path: "f", text: known.text) == known)

        known.remember([UInt8](repeating: 0xB2, count: 32), for: URL(string: "http://127.0.0.1:8080/")!)
        known.remember([UInt8](repeating: 0xC3, count: 32), for: URL(string: "http://10.0.0.1/")!)
        known.remember(nil, for: URL(string: "https://keys.example.com/api/")!)
        known.remember(nil, for: URL(string: "http://nowhere/")!)
        #expect(known.text == "# services this user has seen\nhttp://127.0.0.1:8080/ \(Self.b)\n\nhttp://10.0.0.1/ \(String(repeating: "c3", count: 32))\n")
        #expect(try KnownDeployments(path: "f", text: "").text == "")
    }

    static let malformed: [(String, Int)] = [
        ("http://127.0.0.1:8080/ \(a)\nhttp://127.0.0.1:8081/ zz\n", 2),
        ("http://127.0.0.1:8080/  \(a)\n", 1),
        ("http://127.0.0.1:8080/ \(a) extra\n", 1),
        ("http://127.0.0.1:8080/\t\(a)\n", 1),
        (" http://127.0.0.1:8080/ \(a)\n", 1),
        ("http://127.0.0.1:8080/ \(a)\r\n", 1),
        ("http://127.0.0.1:8080 \(a)\n", 1),
        ("ftp://127.0.0.1/ \(a)\n", 1),
        ("\(a)\n", 1),
        ("# fine\n\nhttp://127.0.0.1:8080/ \(a.dropLast(2))\n", 3),
        ("http://127.0.0.1:8080/ \(a)00\n", 1),
        ("http://127.0.0.1:8080/ \(a)\nhttp://127.0.0.1:8080/ \(b)\n", 2),
    ]

    @Test(arguments: malformed)
    func aMalformedLineIsAnErrorNamingFileAndLine(text: String, line: Int) {
        do {
            _ = try KnownDeployments(path: "/x/known-deployments", text: text)
            Issue.record("accepted \(text.debugDescription)")
        } catch {
            #expect(error.code == .malformed)
            #expect(error.message.hasPrefix("/x/known-deployments:\(line): "), "\(error.message)")
        }
    }

    @Test func aMissingFileIsEmptyAndAMalformedOneIsRefused() throws {
        let dir = try Self.directory()
        #expect(try KnownDeployments.load(path: dir + "/none").text == "")
        try Data("garbage\n".utf8).write(to: URL(fileURLWithPath: dir + "/bad"))
        #expect(throws: KnownDeployments.Error(.malformed, "")) { try KnownDeployments.load(path: dir + "/bad") }
    }

    @Test func savingCreatesTheDirectoryAndWritesAtomicallyWithMode0600() throws {
        let path = try Self.directory() + "/config/cloister/known-deployments"
        var known = try KnownDeployments.load(path: path)
        known.remember([UInt8](repeating: 1, count: 32), for: URL(string: "http://127.0.0.1:8080/")!)
        try known.save()
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(try KnownDeployments.load(path: path) == known)

        // The file is replaced, never rewritten in place: a reader holding the old file (here, a hard link) still
        // sees it whole, and the new one has mode 0600 whatever the old one had.
        let old = path + ".old"
        try FileManager.default.linkItem(atPath: path, toPath: old)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        known.remember([UInt8](repeating: 2, count: 32), for: URL(string: "http://127.0.0.1:8080/")!)
        try known.save()
        #expect(try KnownDeployments.load(path: old)[URL(string: "http://127.0.0.1:8080/")!] == [UInt8](repeating: 1, count: 32))
        #expect(try KnownDeployments.load(path: path)[URL(string: "http://127.0.0.1:8080/")!] == [UInt8](repeating: 2, count: 32))
        #expect((try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let directory = (path as NSString).deletingLastPathComponent
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["known-deployments", "known-deployments.old"])
    }

    @Test func theLocationFollowsTheEnvironment() {
        #expect(KnownDeployments.defaultPath(environment: ["CLOISTER_CONFIG_DIR": "/c", "XDG_CONFIG_HOME": "/x", "HOME": "/h"]) == "/c/known-deployments")
        #expect(KnownDeployments.defaultPath(environment: ["XDG_CONFIG_HOME": "/x", "HOME": "/h"]) == "/x/cloister/known-deployments")
        #expect(KnownDeployments.defaultPath(environment: ["HOME": "/h"]) == "/h/.config/cloister/known-deployments")
    }
}
