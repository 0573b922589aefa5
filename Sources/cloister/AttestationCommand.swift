import ArgumentParser
import Foundation
import NitroAttestation

struct AttestationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attestation",
        abstract: "Verify or inspect Nitro attestation documents.",
        subcommands: [Verify.self, Inspect.self]
    )
}

/// Reads a document file in any accepted encoding.
func readDocument(_ path: String) throws(AttestationError) -> [UInt8] {
    guard let handle = FileHandle(forReadingAtPath: path) else {
        throw AttestationError(.unreadableInput, "cannot open \(path)")
    }
    defer { try? handle.close() }
    // Read one byte past the limit so an oversized file is refused without reading all of it.
    let data = (try? handle.read(upToCount: DocumentEncoding.maxFileSize + 1)) ?? nil
    return try DocumentEncoding.decode(Array(data ?? Data())).bytes
}

func readFile(_ path: String, what: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw ValidationError("cannot read \(what) \(path)")
    }
    return Array(data)
}

extension AttestationCommand {
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify attestation documents: structure, certificate chain, signature and policy.",
            discussion: """
                Each FILE holds one document as raw CBOR, hex or base64. A document verifies when its COSE_Sign1 \
                and fields follow AWS's rules, its chain runs from a trusted root (AWS Nitro Enclaves Root-G1, or \
                a --root you pass) to the signing certificate with every certificate valid at the validation time, \
                its ES384 signature verifies, and it meets the policy: PCRs pinned by --manifest, --nonce, \
                --max-age and debug mode. Debug-mode documents (PCR0-2 all zero) are refused when a manifest is \
                given unless it or --allow-debug allows them; without a manifest they are reported, not refused.

                Exit status: 0 when every file verified, 1 when any failed (each failure names its check), \
                64 for a usage error.
                """
        )

        @Argument(help: "Document files (raw CBOR, hex or base64).")
        var files: [String]

        @Option(help: ArgumentHelp("When to judge validity: now, document (its own timestamp) or an ISO 8601 instant.", valueName: "now|document|ISO8601"))
        var at: String = "now"

        @Option(help: ArgumentHelp("Also trust the root certificate(s) in this PEM file (an emulated root, say).", valueName: "PEM"))
        var root: [String] = []

        @Option(help: "Pins: a Cloister manifest or the JSON nitro-cli build-enclave / describe-eif prints.")
        var manifest: String?

        @Option(help: ArgumentHelp("The nonce the document must carry.", valueName: "HEX"))
        var nonce: String?

        @Option(name: .customLong("max-age"), help: ArgumentHelp("Refuse documents older than this at the validation time.", valueName: "SECONDS"))
        var maxAge: Int?

        @Flag(name: .customLong("allow-debug"), help: "Accept debug-mode documents even when a manifest is given.")
        var allowDebug = false

        @Flag(help: "Print one JSON object per file instead of a report.")
        var json = false

        func run() throws {
            let time = try parseTime(at)
            var roots = TrustedRoots.aws
            for path in root {
                let pem = String(decoding: try readFile(path, what: "root"), as: UTF8.self)
                do {
                    for c in try X509Certificate.fromPEM(pem) { roots.add(c) }
                } catch {
                    throw ValidationError("--root \(path): \(error.message)")
                }
            }
            var policy = AttestationPolicy(allowDebug: allowDebug ? true : nil)
            if let manifest {
                do {
                    policy = try TrustManifest.parse(try readFile(manifest, what: "manifest")).policy(allowDebugOverride: allowDebug)
                } catch let error as TrustManifest.Error {
                    throw ValidationError("\(manifest): \(error.message)")
                }
            }
            if let nonce {
                guard let bytes = Hex.decode(nonce) else { throw ValidationError("--nonce must be hex") }
                policy.nonce = bytes
            }
            if let maxAge {
                guard maxAge > 0 else { throw ValidationError("--max-age must be a positive number of seconds") }
                policy.maxAge = Int64(maxAge) * 1000
            }

            let verifier = AttestationVerifier(roots: roots)
            var failures = 0
            for file in files {
                let outcome = VerificationOutcome.run(file: file, verifier: verifier, time: time, policy: policy)
                if !outcome.valid { failures += 1 }
                print(json ? outcome.jsonLine() : outcome.textReport())
            }
            if failures > 0 {
                if !json { printError("\(failures) of \(files.count) document(s) failed verification") }
                throw ExitCode(1)
            }
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decode a document and show its fields WITHOUT verifying anything.",
            discussion: "The output is marked UNVERIFIED: nothing in it is authenticated. Use `verify` to check a document."
        )

        @Argument(help: "Document file (raw CBOR, hex or base64).")
        var file: String

        @Flag(help: "Print a JSON object instead of text.")
        var json = false

        func run() throws {
            do {
                let (envelope, document) = try AttestationVerifier.parse(try readDocument(file))
                print(json ? InspectReport.json(file: file, envelope, document) : InspectReport.text(file: file, envelope, document))
            } catch {
                printError("\(file): cannot decode: \(error)")
                throw ExitCode(1)
            }
        }
    }
}

func parseTime(_ text: String) throws -> ValidationTime {
    switch text {
    case "now": return .now
    case "document": return .documentTimestamp
    default:
        guard let ms = Timestamp.parse(text) else {
            throw ValidationError("--at must be now, document or an ISO 8601 instant such as 2024-07-31T19:56:11Z")
        }
        return .instant(milliseconds: ms)
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
