// Measures verification throughput over a set of documents, cold (every chain validated in full) and warm
// (validated chains cached, so each document costs its own signature check). Every iteration verifies the
// document from its bytes: decode, rules, chain (or cache lookup), ES384 signature.
import Foundation
import NitroAttestation

func usage() -> Never {
    FileHandle.standardError.write(Data("usage: AttestationBenchmark [--seconds S] [--at document|now] FILE...\n".utf8))
    exit(64)
}

var seconds = 3.0
var files: [String] = []
var arguments = CommandLine.arguments.dropFirst()
while let a = arguments.popFirst() {
    switch a {
    case "--seconds":
        guard let value = arguments.popFirst().flatMap(Double.init), value > 0 else { usage() }
        seconds = value
    case "-h", "--help": usage()
    default: files.append(a)
    }
}
if files.isEmpty { usage() }

let documents: [[UInt8]] = files.map { path in
    guard let data = FileManager.default.contents(atPath: path), let doc = try? DocumentEncoding.decode(Array(data)).bytes else {
        FileHandle.standardError.write(Data("cannot read \(path)\n".utf8))
        exit(1)
    }
    return doc
}

func measure(_ label: String, _ verifier: AttestationVerifier, seconds: Double) {
    // One untimed pass: checks every document verifies and, for the warm case, fills the cache.
    for doc in documents {
        do { _ = try verifier.verify(doc, at: .documentTimestamp) } catch {
            FileHandle.standardError.write(Data("\(label): a document failed: \(error)\n".utf8))
            exit(1)
        }
    }
    let clock = ContinuousClock()
    let start = clock.now
    var verified = 0
    var iterations = 0
    while clock.now - start < .milliseconds(Int(seconds * 1000)) {
        for doc in documents where (try? verifier.verify(doc, at: .documentTimestamp)) != nil { verified += 1 }
        iterations += 1
    }
    let elapsed = clock.now - start
    let secs = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    guard verified == iterations * documents.count else {
        FileHandle.standardError.write(Data("\(label): verification failed during the run\n".utf8))
        exit(1)
    }
    print("cloister-\(label) docs_per_second=\(String(format: "%.1f", Double(verified) / secs)) documents=\(documents.count) iterations=\(iterations)")
}

measure("cold", AttestationVerifier(cache: nil), seconds: seconds)
measure("warm", AttestationVerifier(cache: ChainCache()), seconds: seconds)
